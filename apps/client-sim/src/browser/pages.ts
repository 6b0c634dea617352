// The HTML of the browser fleet page (driven by the fleet launcher) and of the join page (opened by
// a person on a phone or laptop). Both load /client/page.js, which runs clients in Web Workers.
export const FLEET_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>splitfleet browser fleet</title>
<script type="module" src="/client/page.js"></script></head><body><p>splitfleet browser fleet page</p></body></html>`;

export const JOIN_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Join a splitfleet run</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:1.5em;max-width:640px;color:#222}button{font-size:1.05em;padding:.4em 1.2em;margin-right:.6em}
#status{margin-top:1em;padding:.6em;background:#f3f3f3;border-radius:6px}ul{padding-left:1.2em}</style>
<script type="module" src="/client/page.js"></script></head><body>
<h1>Join a split-learning run</h1>
<p>This page can join the run on <b id="server"></b> as one <b>edge client</b>. If you agree, it will:</p>
<ul>
<li>download a part of the training images (Fashion-MNIST) from this server — they stay in this tab;</li>
<li>train the model's first and last layers in a background Web Worker, on your GPU through WebGPU if
the browser offers it, else on the CPU (WebAssembly);</li>
<li>send the server only intermediate activations and gradients, never images or labels.</li>
</ul>
<p>It uses CPU/GPU and network while the run lasts. You can leave at any time.</p>
<label><input type="checkbox" id="consent"> I agree to contribute this device's compute to this run.</label>
<p><button id="join" disabled>Join</button><button id="leave" disabled>Leave</button></p>
<div id="status">Asking the server whether a slot is open…</div>
<script type="module">
const $ = (id) => document.getElementById(id);
$('server').textContent = location.host;
// the operator decides how many slots strangers may take (fleet.openSlots); say so before anyone consents
let slotFree = false;
const canJoin = () => { $('join').disabled = !($('consent').checked && slotFree); };
fetch('/api/join-slots').then((r) => r.json()).then((s) => {
  slotFree = s.free > 0;
  $('status').textContent = slotFree ? s.free + ' of ' + s.open + ' open slot' + (s.open === 1 ? '' : 's') + ' free. Not joined.' : 'No slot is open to join: ' + s.message + '.';
  $('status').dataset.slots = slotFree ? 'free' : 'none';
  canJoin();
}).catch((e) => { $('status').textContent = 'Cannot reach the server: ' + e.message; });
$('consent').addEventListener('change', canJoin);
let timer = null;
$('join').addEventListener('click', async () => {
  $('join').disabled = true;
  $('status').textContent = 'Asking the server for a client slot…';
  try {
    const r = await fetch('/api/join-token', { method: 'POST' });
    const slot = await r.json();
    if (!r.ok) throw new Error(slot.message);
    $('status').textContent = 'Loading data and the model…';
    const { clientIds, backends } = await window.splitfleet.start({ slots: [0], tokens: slot.token ? [slot.token] : null, backend: 'auto', fleetId: 'join-' + Math.random().toString(36).slice(2) });
    const b = backends[0];
    $('status').dataset.clientId = String(clientIds[0]);
    $('leave').disabled = false;
    const show = async () => {
      const p = (await window.splitfleet.progress())[0];
      $('status').innerHTML = 'Joined as client <b>' + clientIds[0] + '</b> on <b>' + b.backend + '</b>' + (b.adapter ? ' (' + b.adapter + ')' : '') + '. Rounds completed: <b id="rounds">' + (p ? p.rounds : 0) + '</b>.';
    };
    await show();
    timer = setInterval(show, 1000);
  } catch (e) {
    $('status').textContent = 'Could not join: ' + e.message;
    canJoin();
  }
});
$('leave').addEventListener('click', async () => {
  clearInterval(timer);
  await window.splitfleet.leave();
  $('leave').disabled = true;
  $('status').textContent = 'Left the run. Thank you.';
  $('status').dataset.left = 'true';
});
</script></body></html>
`;
