import { invalidOption } from "../../core/errors.js";
import { RedisStore, type RedisStoreOptions } from "./redis-store.js";

/**
 * Store URLs for Redis:
 *   redis://[user:password@]host:port[/db]      a single Redis
 *   rediss://…                                  the same over TLS
 *   redis+cluster://host:port,host:port         a Redis Cluster, through these seed nodes
 *   rediss+cluster://…                          a Redis Cluster over TLS
 * Query parameters: prefix=<key prefix>, partitions=<n>, e.g.
 *   redis+cluster://10.0.0.1:7001,10.0.0.2:7001?partitions=12
 */
export function openRedisStore(url: string): RedisStore {
  const query = url.indexOf("?");
  const params = new URLSearchParams(query >= 0 ? url.slice(query + 1) : "");
  const base = query >= 0 ? url.slice(0, query) : url;
  const options: RedisStoreOptions = {};
  for (const [name, value] of params) {
    if (name === "prefix") options.prefix = value;
    else if (name === "partitions") options.partitions = Number(value);
    else throw invalidOption(`unsupported redis URL parameter ${name} (known: prefix, partitions)`, { url });
  }
  const cluster = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/]+)\/?$/.exec(base);
  if (cluster) {
    const [, scheme, auth, hosts] = cluster;
    const nodes = hosts!.split(",").map((hostPort) => {
      const [host, port] = hostPort.split(":");
      if (!host) throw invalidOption(`bad cluster node ${JSON.stringify(hostPort)} in ${JSON.stringify(url)}`);
      return { host, port: port ? Number(port) : 6379 };
    });
    const [username, password] = auth ? auth.split(":").map(decodeURIComponent) : [];
    options.cluster = {
      nodes,
      options: {
        redisOptions: {
          ...(username ? { username } : {}),
          ...(password ? { password } : {}),
          ...(scheme === "rediss" ? { tls: {} } : {}),
        },
      },
    };
    return new RedisStore(options);
  }
  if (!/^rediss?:\/\//.test(base)) throw invalidOption(`not a Redis URL: ${JSON.stringify(url)}`, { url });
  return new RedisStore({ ...options, url: base });
}
