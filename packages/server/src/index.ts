// @checkback/server for embedding: start the HTTP server around a store (or a Checkback you
// own), or build the fastify app to mount or test it yourself. The CLI is bin "checkback".
export { buildApp } from "./http/app.js";
export {
  DEFAULT_CONFIG,
  DEFAULT_PORT,
  loadServerConfig,
  resolveServerConfig,
  type ServerConfig,
  type ServerConfigInput,
} from "./http/config.js";
export { type RunningServer, type StartOptions, startServer } from "./http/start.js";
