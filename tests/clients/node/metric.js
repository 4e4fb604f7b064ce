// node-postgres: one parameterized metric query ($1, extended protocol) plus the unfiltered answer, as JSON.
// usage: node metric.js <connection-url> <table> <dimension> <measure>
'use strict';
const { Client } = require('pg');

const [url, table, dim, measure] = process.argv.slice(2);
const qi = (s) => '"' + s.replace(/"/g, '""') + '"';

async function main() {
  const client = new Client({ connectionString: url, ssl: false });
  await client.connect();
  try {
    const all = await client.query(
      `SELECT ${qi(dim)}, MEASURE(${qi(measure)}) AS m FROM ${qi(table)} GROUP BY ${qi(dim)} ORDER BY ${qi(dim)}`);
    const value = all.rows[0][dim];
    const sql = `SELECT ${qi(dim)}, MEASURE(${qi(measure)}) AS m FROM ${qi(table)} WHERE ${qi(dim)} = $1 GROUP BY ${qi(dim)}`;
    const one = await client.query(sql, [value]);
    const named = await client.query({ name: 'metric', text: sql, values: [value] });
    const again = await client.query({ name: 'metric', text: sql, values: [value] });
    console.log(JSON.stringify({
      all: all.rows,
      value,
      fields: one.fields.map((f) => ({ name: f.name, oid: f.dataTypeID })),
      one: one.rows,
      named: named.rows,
      again: again.rows,
    }));
  } finally {
    await client.end();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
