// "checkback/postgres": the PostgreSQL store, for apps that configure it in code (a pool of their
// own, enqueueing inside their transaction). Needs pg installed.
export { PostgresStore, type PostgresStoreOptions } from "./stores/postgres/postgres-store.js";
