import { describe, expect, it } from 'vitest';
import type { LifelinePlugin, PluginContext, PluginHook } from '../src/index.js';
import { PluginHost } from '../src/internal.js';

const ctx: PluginContext = { side: 'client', sessionId: 's' };
const send = { id: 'a', bytes: 3, at: 1 };

describe('PluginHost', () => {
  it('is inactive without plugins, and then every hook is a no-op', () => {
    const host = new PluginHost(undefined, () => {
      throw new Error('not called');
    });
    expect(host.active).toBe(false);
    expect(() => host.onSend(send, ctx)).not.toThrow();
  });

  it('calls each plugin that implements a hook, in order, with the plugin as this', () => {
    const calls: string[] = [];
    const make = (name: string): LifelinePlugin => ({
      name,
      onSend(event, c) {
        calls.push(`${this.name}:${event.id}:${c.sessionId}`);
      },
    });
    const host = new PluginHost([make('a'), { name: 'none' }, make('b')], () => {});
    expect(host.active).toBe(true);
    host.onSend(send, ctx);
    host.onSend({ ...send, id: 'b' }, ctx);
    host.onAck({ id: 'a', seq: 1, queuedAt: 0, sentAt: 0, at: 1 }, ctx); // nobody implements it
    expect(calls).toEqual(['a:a:s', 'b:a:s', 'a:b:s', 'b:b:s']);
  });

  it('reports a throwing plugin and still calls the others; a throwing reporter is swallowed', () => {
    const reported: Array<[string, PluginHook]> = [];
    const seen: string[] = [];
    const plugins: LifelinePlugin[] = [
      {
        name: 'broken',
        onSend: () => {
          throw new Error('plugin bug');
        },
      },
      { name: 'fine', onSend: (e) => void seen.push(e.id) },
    ];
    const host = new PluginHost(plugins, (error, plugin, hook) => {
      reported.push([plugin, hook]);
      throw error; // a reporter that fails too
    });
    expect(() => host.onSend(send, ctx)).not.toThrow();
    expect(reported).toEqual([['broken', 'onSend']]);
    expect(seen).toEqual(['a']);

    const single = new PluginHost([plugins[0] as LifelinePlugin], (_e, plugin, hook) => reported.push([plugin, hook]));
    expect(() => single.onSend(send, ctx)).not.toThrow();
    expect(reported).toHaveLength(2);
  });
});
