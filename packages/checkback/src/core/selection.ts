/** Which jobs an admin operation (redrive, purge) touches: listed ids, or all (up to `limit`, oldest first). */
export type Selection = { ids: string[] } | { all: true; limit?: number };
