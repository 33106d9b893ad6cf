import { startTestServer } from "/work/wt/server-edge/test/server/helpers.ts";
const s = await startTestServer({});
const r = await s.app.inject({ method: "GET", url: "/openapi.json" });
const doc = JSON.parse(r.body);
for (const [p, ops] of Object.entries<any>(doc.paths)) for (const [m, op] of Object.entries<any>(ops)) console.log(m, p, JSON.stringify(op.parameters?.map((x:any)=>[x.in,x.name,x.schema])), JSON.stringify(op.requestBody?.content?.["application/json"]?.schema ?? null).slice(0,400));
await s.close();
