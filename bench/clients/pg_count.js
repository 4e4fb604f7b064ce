// Receive a query's rows with node-postgres (pg) and count them; prints "rows seconds" per run.
// Usage: node pg_count.js CONNSTRING SQL RUNS   (NODE_PATH must reach a node_modules holding pg)
const { Client } = require("pg");

async function main() {
  const [conn, sql, runsText] = process.argv.slice(2);
  const client = new Client({ connectionString: conn });
  await client.connect();
  for (let r = 0; r < Number(runsText); r++) {
    const t0 = process.hrtime.bigint();
    const res = await client.query(sql);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${res.rows.length} ${secs.toFixed(6)}`);
  }
  await client.end();
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
