// `npm run chat`: builds (turbo) and runs this. Serves the chat on 127.0.0.1 and prints its URL;
// Ctrl-C (or SIGTERM) stops it within a few seconds.
//
//   PORT=3000 HOST=127.0.0.1 node examples/chat/dist/server/main.js
import { startChat } from './chat-server.js';

const DEFAULT_PORT = 3000;
const STOP_TIMEOUT_MS = 5_000;

const port = process.env.PORT === undefined || process.env.PORT === '' ? DEFAULT_PORT : Number(process.env.PORT);
startChat({ port, host: process.env.HOST || '127.0.0.1' }).then(
  (chat) => {
    console.log(`Lifeline chat on ${chat.url}  (open it in two windows, pick two names; Ctrl-C to stop)`);
    const stop = (): void => {
      console.log('stopping…');
      const force = setTimeout(() => process.exit(1), STOP_TIMEOUT_MS);
      force.unref();
      void chat.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'EADDRINUSE') console.error(`port ${port} is taken: PORT=0 npm run chat picks a free one`);
    process.exit(1);
  },
);
