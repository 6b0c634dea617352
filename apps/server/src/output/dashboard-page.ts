// The dashboard page: one self-contained HTML document (no external scripts: the machines running
// splitfleet are often offline). It renders DashboardState from server-sent events, with polling
// as the fallback.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>splitfleet dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1100px;color:#222}
h1{font-size:1.4em;margin:0 0 .6em}.badge{font-size:.7em;padding:2px 8px;border-radius:9px;background:#ddd;vertical-align:middle}
.badge.training{background:#cde8ff}.badge.attacking{background:#ffe2b8}.badge.completed{background:#c9f2c9}.badge.failed{background:#ffc9c9}
section{margin:1em 0}progress{width:360px;height:14px}.muted{color:#777;font-size:.9em}
.grid{display:flex;flex-wrap:wrap;gap:3px;max-width:900px}.client{width:14px;height:14px;border-radius:3px;background:#bbb}
.client.connected{background:#7cc47c}.client.active{background:#2b7bd6}.client.disconnected{background:#e07a7a}
svg.chart{border:1px solid #ddd;background:#fff;margin-right:1em}svg .curve{fill:none;stroke-width:2}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 6px}
</style></head><body>
<h1>splitfleet <span id="run"></span> <span id="status" class="badge">connecting…</span> <span id="access" class="badge"></span></h1>
<section><div>Round <b id="round-text">–</b> <progress id="round-progress" max="1" value="0"></progress></div>
<div>Step <b id="step-text">–</b> <progress id="step-progress" max="1" value="0"></progress></div></section>
<section><h2>Curves</h2>
<svg id="acc-chart" class="chart" width="420" height="220"></svg><svg id="loss-chart" class="chart" width="420" height="220"></svg></section>
<section><h2>Clients <span id="client-summary" class="muted"></span></h2>
<div class="muted"><span style="color:#7cc47c">■</span> connected · <span style="color:#2b7bd6">■</span> in this round · <span style="color:#e07a7a">■</span> disconnected</div>
<div id="clients" class="grid"></div>
<h3>Who joined from where</h3>
<table id="origins"><thead><tr><th>address</th><th>runtime / backend</th><th>user agent</th><th>clients</th></tr></thead><tbody></tbody></table></section>
<section id="attack-section"><h2>Attack</h2><div id="attack-text" class="muted">no attack running</div><progress id="attack-progress" max="1" value="0"></progress></section>
<p id="error" style="color:#b00"></p>
<script>
const $ = (id) => document.getElementById(id);
// user agents and adapters are what clients said about themselves: never HTML
const esc = (v) => String(v).replace(/[&<>"']/g, (ch) => '&#' + ch.charCodeAt(0) + ';');
/** One row per origin (address, runtime/backend, user agent) with its client ids: a fleet of 1,000 on one host is one row. */
function origins(clients) {
  const rows = new Map();
  for (const c of clients) {
    const key = c.address + '|' + c.runtime + '/' + c.backend + '|' + (c.userAgent || '');
    if (!rows.has(key)) rows.set(key, { c, ids: [] });
    rows.get(key).ids.push(c.id);
  }
  return [...rows.values()].map(({ c, ids }) => '<tr data-address="' + esc(c.address) + '"><td>' + esc(c.address) + '</td><td>' + esc(c.runtime + ' / ' + c.backend) + '</td><td>' + esc(c.userAgent || '–') + '</td><td>' + (ids.length > 12 ? ids.length + ' clients (' + ids[0] + '–' + ids[ids.length - 1] + ')' : ids.join(', ')) + '</td></tr>').join('');
}
function chart(svg, series, yLabel, fixedMax) {
  const W = +svg.getAttribute('width'), H = +svg.getAttribute('height'), L = 44, B = 28, T = 12, R = 10;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])), ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(1, ...xs), yMax = fixedMax ?? Math.max(1e-9, ...ys);
  const X = (x) => L + ((W - L - R) * (x - 1)) / Math.max(1, xMax - 1), Y = (y) => H - B - ((H - B - T) * y) / yMax;
  let out = '<text x="' + (W / 2) + '" y="' + (H - 6) + '" text-anchor="middle" font-size="11">round</text>';
  out += '<text x="12" y="' + (H / 2) + '" transform="rotate(-90 12 ' + (H / 2) + ')" text-anchor="middle" font-size="11">' + yLabel + '</text>';
  for (let i = 0; i <= 4; i++) { const v = (yMax * i) / 4; out += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + Y(v) + '" y2="' + Y(v) + '" stroke="#eee"/><text x="' + (L - 4) + '" y="' + (Y(v) + 4) + '" text-anchor="end" font-size="10">' + (v < 10 ? v.toFixed(2) : v.toFixed(0)) + '</text>'; }
  const every = Math.max(1, Math.ceil(xMax / 10));
  for (let x = 1; x <= xMax; x += every) out += '<text x="' + X(x) + '" y="' + (H - B + 12) + '" text-anchor="middle" font-size="10">' + x + '</text>';
  series.forEach((s, k) => {
    const pts = s.points.map((p) => X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1)).join(' ');
    out += '<polyline class="curve" data-name="' + s.name + '" data-points="' + s.points.length + '" stroke="' + s.color + '" points="' + pts + '"/>';
    s.points.forEach((p) => { out += '<circle cx="' + X(p[0]).toFixed(1) + '" cy="' + Y(p[1]).toFixed(1) + '" r="2.5" fill="' + s.color + '"/>'; });
    out += '<text x="' + (W - R - 4) + '" y="' + (T + 12 + 13 * k) + '" text-anchor="end" font-size="11" fill="' + s.color + '">' + s.name + '</text>';
  });
  svg.innerHTML = out;
}
function render(s) {
  $('run').textContent = s.runId + ' (' + s.mode + ')';
  $('status').textContent = s.status; $('status').className = 'badge ' + s.status;
  $('access').textContent = s.controllable ? 'admin control enabled' : 'read-only';
  $('round-text').textContent = Math.min(s.round + (s.status === 'training' ? 1 : 0), s.rounds) + ' / ' + s.rounds;
  $('round-progress').max = s.rounds; $('round-progress').value = s.history.length;
  $('step-text').textContent = s.steps ? s.step + ' / ' + s.steps : '–';
  $('step-progress').max = Math.max(1, s.steps); $('step-progress').value = s.step;
  const h = s.history.map((p) => ({ ...p, r: p.round + 1 }));
  chart($('acc-chart'), [{ name: 'test accuracy', color: '#2b7bd6', points: h.map((p) => [p.r, p.testAccuracy]) }], 'accuracy', 1);
  chart($('loss-chart'), [
    { name: 'test loss', color: '#d65a2b', points: h.map((p) => [p.r, p.testLoss]) },
    { name: 'train loss', color: '#7a7a7a', points: h.filter((p) => p.trainLoss !== null).map((p) => [p.r, p.trainLoss]) },
  ], 'loss');
  const connected = s.clients.filter((c) => c.connected).length, active = s.clients.filter((c) => c.active).length;
  $('client-summary').textContent = connected + ' connected of ' + s.clients.length + ' joined, ' + active + ' in this round';
  $('clients').innerHTML = s.clients.map((c) => '<div class="client ' + (!c.connected ? 'disconnected' : c.active ? 'active' : 'connected') + '" data-id="' + c.id + '" title="client ' + c.id + ' · ' + esc(c.runtime + '/' + c.backend) + ' · ' + c.samples + ' samples · from ' + esc(c.address) + '"></div>').join('');
  $('origins').tBodies[0].innerHTML = origins(s.clients);
  if (s.attack) { $('attack-text').textContent = s.attack.label + ' (' + s.attack.done + '/' + s.attack.total + ')'; $('attack-progress').max = s.attack.total; $('attack-progress').value = s.attack.done; }
  $('error').textContent = s.error || '';
  document.body.dataset.updates = String(+(document.body.dataset.updates || 0) + 1);
}
let polling = null;
const es = new EventSource('/api/events');
es.onmessage = (e) => render(JSON.parse(e.data));
es.onerror = () => { if (!polling) polling = setInterval(() => fetch('/api/state').then((r) => r.json()).then(render).catch(() => {}), 2000); };
</script></body></html>
`;
