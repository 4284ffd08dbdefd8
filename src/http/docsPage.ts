/**
 * The API reference page served at /docs: one self-contained HTML document (no CDN, no build step)
 * that fetches /openapi.json and renders it — operations grouped by tag, with parameters, request
 * body, responses and the component schemas they refer to. Small on purpose: a reader, not a
 * request console (curl lines in the README cover trying things).
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pixgate API reference</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6577; --bg: #fff; --panel: #f5f7fa; --line: #dde2ea; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e3e7ee; --muted: #9aa5b5; --bg: #14171c; --panel: #1c2027; --line: #2c323c; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, Segoe UI, sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 1rem 1.25rem; border-bottom: 1px solid var(--line); display: flex; gap: 1rem; flex-wrap: wrap; align-items: baseline; }
  header h1 { font-size: 1.25rem; margin: 0; }
  header p { margin: 0; color: var(--muted); flex: 1 1 20rem; }
  #filter { padding: .4rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); min-width: 16rem; }
  main { max-width: 70rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; }
  h2 { font-size: 1.05rem; text-transform: capitalize; margin: 1.75rem 0 .5rem; }
  details { border: 1px solid var(--line); border-radius: 8px; margin: .4rem 0; background: var(--panel); }
  summary { cursor: pointer; padding: .5rem .75rem; display: flex; gap: .75rem; align-items: baseline; flex-wrap: wrap; }
  .m { font: 600 .75rem/1 ui-monospace, monospace; padding: .3rem .45rem; border-radius: 4px; color: #fff; min-width: 4.2rem; text-align: center; }
  .GET { background: #2f7d4f; } .POST { background: #2d5fa8; } .DELETE { background: #b03a3a; } .PATCH, .PUT { background: #a86a16; }
  .p { font-family: ui-monospace, monospace; word-break: break-all; }
  .s { color: var(--muted); }
  .body { padding: 0 .9rem .8rem; }
  table { border-collapse: collapse; width: 100%; margin: .3rem 0 .8rem; }
  th, td { text-align: left; border-bottom: 1px solid var(--line); padding: .3rem .4rem; vertical-align: top; }
  pre { margin: .2rem 0 .8rem; padding: .6rem; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; overflow: auto; font-size: .8rem; max-height: 24rem; }
  code { font-family: ui-monospace, monospace; }
  .lock { font-size: .8rem; color: var(--muted); }
</style>
</head>
<body>
<header><h1>Pixgate API</h1><p id="desc">Loading the OpenAPI document…</p><input id="filter" type="search" placeholder="Filter by path or summary" aria-label="Filter operations"></header>
<main id="out"></main>
<script>
(async () => {
  const out = document.getElementById('out');
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const json = (v) => '<pre><code>' + esc(JSON.stringify(v, null, 2)) + '</code></pre>';
  let doc;
  try {
    doc = await (await fetch('openapi.json')).json();
  } catch (err) {
    document.getElementById('desc').textContent = 'Could not load openapi.json: ' + err;
    return;
  }
  document.getElementById('desc').textContent = (doc.info.description || '') + ' — OpenAPI ' + doc.openapi + ', version ' + doc.info.version + '.';
  const groups = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push({ path, method: method.toUpperCase(), op });
    }
  }
  const params = (list) => !list || !list.length ? '' :
    '<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>' +
    list.map((p) => '<tr><td><code>' + esc(p.name) + '</code></td><td>' + esc(p.in) + '</td><td>' + (p.required ? 'yes' : '') +
      '</td><td><code>' + esc(JSON.stringify(p.schema || {})) + '</code>' + (p.description ? '<br>' + esc(p.description) : '') + '</td></tr>').join('') + '</table>';
  const content = (c) => Object.entries(c || {}).map(([type, v]) => '<div class="s">' + esc(type) + '</div>' + json(v.schema || {})).join('');
  const render = (filter) => {
    const f = filter.trim().toLowerCase();
    let html = '';
    for (const [tag, ops] of [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      const shown = ops.filter((o) => !f || (o.path + ' ' + (o.op.summary || '')).toLowerCase().includes(f));
      if (!shown.length) continue;
      html += '<h2>' + esc(tag) + '</h2>';
      for (const { path, method, op } of shown) {
        const open = op.security && op.security.length === 0 ? '' : ' <span class="lock">bearer token</span>';
        html += '<details><summary><span class="m ' + method + '">' + method + '</span><span class="p">' + esc(path) + '</span><span class="s">' + esc(op.summary || '') + '</span>' + open + '</summary><div class="body">';
        if (op.description) html += '<p>' + esc(op.description) + '</p>';
        html += params(op.parameters);
        if (op.requestBody) html += '<strong>Request body</strong>' + content(op.requestBody.content);
        html += '<strong>Responses</strong>';
        for (const [code, r] of Object.entries(op.responses || {})) html += '<div><code>' + esc(code) + '</code> ' + esc(r.description || '') + '</div>' + content(r.content);
        html += '</div></details>';
      }
    }
    const schemas = (doc.components && doc.components.schemas) || {};
    if (!f && Object.keys(schemas).length) {
      html += '<h2>Schemas</h2>' + Object.entries(schemas).map(([name, s]) => '<details id="' + esc(name) + '"><summary><span class="p">' + esc(name) + '</span></summary><div class="body">' + json(s) + '</div></details>').join('');
    }
    out.innerHTML = html || '<p class="s">No operation matches.</p>';
  };
  const filter = document.getElementById('filter');
  filter.addEventListener('input', () => render(filter.value));
  render('');
})();
</script>
</body>
</html>
`;
