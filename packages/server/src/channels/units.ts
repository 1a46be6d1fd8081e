import type { Codec } from '@lifeline/protocol';
import type { Publication } from '../engine/engine.js';

/**
 * A publication's payload is stored as JSON text, encoded once at `server.publish()`. In the
 * `json` codec that text is the unit as it is; another codec encodes it once more, in its own
 * form (once per publication for a live fan-out, see `Hub`).
 */
export function payloadUnit(codec: Codec, json: string): unknown {
  return codec.name === 'json' && !codec.binary ? json : codec.value(JSON.parse(json));
}

/** A channel's name and epoch encoded in one codec: the parts of `pub`, `join` and `leave` that never change. */
export interface ChannelUnits {
  readonly ch: unknown;
  readonly epoch: string;
  readonly epochUnit: unknown;
}

/**
 * The encoded name and epoch of one channel, one pair per codec in use, so neither is encoded
 * again for each frame. An epoch change replaces the pair of that codec.
 */
export class UnitCache {
  private readonly byCodec = new Map<Codec, ChannelUnits>();

  constructor(readonly channel: string) {}

  of(codec: Codec, epoch: string): ChannelUnits {
    const held = this.byCodec.get(codec);
    if (held !== undefined && held.epoch === epoch) return held;
    const units: ChannelUnits = { ch: held?.ch ?? codec.value(this.channel), epoch, epochUnit: codec.value(epoch) };
    this.byCodec.set(codec, units);
    return units;
  }

  /** Just the name (for `join` and `leave`, which carry no epoch). */
  name(codec: Codec): unknown {
    return this.byCodec.get(codec)?.ch ?? this.of(codec, '').ch;
  }
}

/** The `pub` frame of a stored publication, in `codec`. */
export function pubFrame(codec: Codec, units: ChannelUnits, pub: Publication): unknown {
  const id = pub.id === undefined ? undefined : codec.value(pub.id);
  return codec.pub(units.ch, pub.offset, units.epochUnit, pub.publishedAt, payloadUnit(codec, pub.data), id);
}
