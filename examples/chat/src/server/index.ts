/** The chat example's server: `startChat()` serves the built page and the Lifeline WebSocket on `/ws`. */
export { startChat, type ChatServer } from './chat-server.js';
export { chatDefaults, type ChatOptions } from './options.js';
export { ChatError, RateLimiter, type RateOptions } from './limits.js';
