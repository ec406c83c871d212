// HTTP ingest probe: C concurrent clients POST JSON batches to a running node.
// Usage: node bench/http-ingest.mjs [url] [totalPoints] [batch] [clients] [series]
const [url = 'http://127.0.0.1:8080', total = '2000000', batch = '5000', clients = '8', seriesN = '10000'] = process.argv.slice(2);
const T = Number(total), B = Number(batch), C = Number(clients), S = Number(seriesN);
const base = Date.now() - 3600_000;
let sent = 0;
function body(offset) {
  const points = [];
  for (let i = 0; i < B; i++) {
    const n = offset + i;
    const s = n % S;
    points.push({ metric: 'cpu_usage_user', tags: { hostname: `host_${s}`, region: `r${s % 7}`, rack: `${s % 97}` }, timestamp: base + Math.floor(n / S) * 10, value: Math.round(Math.random() * 10000) / 100 });
  }
  return JSON.stringify({ points });
}
const t0 = performance.now();
await Promise.all(Array.from({ length: C }, async () => {
  while (sent < T) {
    const off = sent;
    sent += B;
    const r = await fetch(`${url}/api/v1/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(off) });
    if (r.status !== 200) throw new Error(`${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }
}));
const s = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ points: sent, seconds: +s.toFixed(2), pointsPerS: Math.round(sent / s) }));
