// Small DOM and formatting helpers the dashboard's panels share.

export const $ = (id) => document.getElementById(id);

export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
export const clock = (ms) =>
  new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
/** The readable tail of a public job id: "video:…93500359", "queue q17". */
export function shortId(id) {
  const tail = id.slice(id.lastIndexOf('-') + 1);
  const [type, rest = ''] = tail.split(':');
  if (id.includes('-pixverse:queue-') || /^q\d+$/.test(rest)) return `${type} ${rest}`;
  return rest.length > 10 ? `${type}:…${rest.slice(-8)}` : tail;
}

export function node(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child);
  return el;
}
export const badge = (text, kind = text) => node('span', { class: `badge ${kind}` }, text);
export function fillBody(table, rows, emptyText, columns) {
  const body = $(table).tBodies[0];
  body.replaceChildren(
    ...(rows.length > 0
      ? rows
      : [node('tr', { class: 'empty' }, node('td', { colspan: columns }, emptyText))]),
  );
}

export function toast(text) {
  const box = $('toast');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 3500);
}
