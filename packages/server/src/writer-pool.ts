import { FrameWriter, jsonEncoder, type FlushProducer, type FrameEncoder, type MessageSink } from '@lifeline/protocol/internal';

/**
 * Writers let go by idle connections, for the next connection that writes. A connection holds a
 * `FrameWriter` only from its first frame of a turn to the flush at the turn's end: a writer kept
 * by each idle connection was ~104 bytes of every held session (issue 14). Writers in use are
 * those of the connections writing in one turn; the spares are bounded so a burst of them does
 * not stay for ever.
 */
const MAX_SPARE = 1024;
const spare: Array<FrameWriter<unknown>> = [];

/** A writer for `sink` in `codec`, pulling `producer` at each flush. */
export function takeWriter(codec: FrameEncoder<unknown>, sink: MessageSink<unknown>, producer: FlushProducer<unknown> | undefined): FrameWriter<unknown> {
  const writer = spare.pop();
  if (writer === undefined) return new FrameWriter(codec, sink, undefined, producer);
  writer.reuse(codec, sink, producer);
  return writer;
}

/** Where a spare writer points: not at the connection that gave it back, which may close meanwhile. */
const nowhere: MessageSink<unknown> = { writeMessage: () => {} };

/**
 * `writer` flushed and holds nothing (`MessageSink.writerIdle`): kept for the next `takeWriter`,
 * holding nothing of its last connection (a spare that kept its sink would keep a closed
 * connection, its socket and its session reachable until the spare is taken again).
 */
export function giveBack(writer: FrameWriter<unknown>): void {
  writer.reuse(jsonEncoder, nowhere, undefined);
  if (spare.length < MAX_SPARE) spare.push(writer);
}
