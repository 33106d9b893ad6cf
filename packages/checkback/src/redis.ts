// "checkback/redis": the Redis store, for apps that configure it in code. Needs ioredis installed.
export { RedisStore, type RedisStoreOptions } from "./stores/redis/redis-store.js";
