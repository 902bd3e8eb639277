// @ts-check
// From raw samples to what people read: medians and ranges, ratios oriented so that > 1 means
// multiproc is better, goals met or not, the markdown table and the SVG chart.

/**
 * @typedef {object} ContestantSummary
 * @property {string} id
 * @property {string} label
 * @property {'ok' | 'missing' | 'failed'} status
 * @property {number[]} samples       measured rounds only (warm-up rounds are dropped)
 * @property {number[]} rounds        the round of each sample
 * @property {number | null} median
 * @property {number | null} min
 * @property {number | null} max
 * @property {string | null} reason   why missing or failed (or why some rounds failed)
 * @property {number} failedRounds
 * @property {string[]} warnings      leftovers found after its runs
 * @property {number} wallS           wall time of all its runs, start-up included (the suite's budget)
 */

/**
 * @typedef {object} GoalSummary
 * @property {string} vs
 * @property {string} vsLabel
 * @property {number} target           the least oriented ratio that meets it
 * @property {string} text
 * @property {number | null} ratio     oriented: > 1 means multiproc is better
 * @property {'met' | 'not met' | 'missing' | 'failed'} status
 */

/**
 * @typedef {object} WorkloadSummary
 * @property {string} id
 * @property {string} title
 * @property {string} unit
 * @property {'higher' | 'lower'} direction
 * @property {ContestantSummary[]} contestants   multiproc first
 * @property {GoalSummary[]} goals
 * @property {Record<string, number>} ratios     oriented ratio of multiproc against every peer that ran
 * @property {Record<string, number>} pairedRatios  the median of the per-round ratios (rounds where both ran)
 */

/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * multiproc against a peer, oriented so that > 1 means multiproc is better.
 * @param {'higher' | 'lower'} direction
 * @param {number} mine
 * @param {number} theirs
 */
export function orientedRatio(direction, mine, theirs) {
  return direction === 'higher' ? mine / theirs : theirs / mine;
}

/**
 * @param {string} id
 * @param {string} label
 * @param {{ status: string, value?: number, reason?: string, round?: number }[]} runs  measured rounds
 * @param {string[]} warnings
 * @param {number} wallMs
 * @returns {ContestantSummary}
 */
export function summarizeContestant(id, label, runs, warnings, wallMs) {
  const ok = runs.filter((r) => r.status === 'ok');
  const samples = ok.map((r) => /** @type {number} */ (r.value));
  const rounds = ok.map((r) => r.round ?? -1);
  const bad = runs.filter((r) => r.status !== 'ok');
  const reason = bad.length > 0 ? (bad[bad.length - 1].reason ?? 'no reason given') : null;
  /** @type {ContestantSummary['status']} */
  let status = 'ok';
  if (samples.length === 0) status = bad.some((r) => r.status === 'failed') ? 'failed' : 'missing';
  if (runs.length === 0) status = 'missing';
  return {
    id,
    label,
    status,
    samples,
    rounds,
    median: samples.length ? median(samples) : null,
    min: samples.length ? Math.min(...samples) : null,
    max: samples.length ? Math.max(...samples) : null,
    reason: status === 'ok' && bad.length > 0 ? `${bad.length} of ${runs.length} rounds failed: ${reason}` : reason,
    failedRounds: bad.filter((r) => r.status === 'failed').length,
    warnings: [...new Set(warnings)],
    wallS: Math.round(wallMs / 100) / 10,
  };
}

/**
 * @param {import('./types.js').Workload} w
 * @param {ContestantSummary[]} contestants
 * @returns {WorkloadSummary}
 */
export function summarizeWorkload(w, contestants) {
  const mine = contestants.find((c) => c.id === 'multiproc');
  /** @type {Record<string, number>} */
  const ratios = {};
  for (const c of contestants) {
    if (c.id === 'multiproc' || c.median === null || !mine || mine.median === null) continue;
    ratios[c.id] = orientedRatio(w.direction, mine.median, c.median);
  }
  /** @type {Record<string, number>} */
  const pairedRatios = {};
  for (const c of contestants) {
    if (c.id === 'multiproc' || !mine) continue;
    const pairs = [];
    for (let i = 0; i < c.samples.length; i++) {
      const j = mine.rounds.indexOf(c.rounds[i]);
      if (j >= 0 && c.rounds[i] >= 0) pairs.push(orientedRatio(w.direction, mine.samples[j], c.samples[i]));
    }
    if (pairs.length) pairedRatios[c.id] = median(pairs);
  }
  const goals = w.goal.map((g) => {
    const peer = contestants.find((c) => c.id === g.vs);
    const vsLabel = peer?.label ?? g.vs;
    const ratio = ratios[g.vs] ?? null;
    /** @type {GoalSummary['status']} */
    let status;
    if (ratio !== null) status = ratio >= g.ratio ? 'met' : 'not met';
    else if (mine?.status === 'failed' || peer?.status === 'failed') status = 'failed';
    else status = 'missing';
    return { vs: g.vs, vsLabel, target: g.ratio, text: g.text ?? `>= ${g.ratio}x ${vsLabel}`, ratio, status };
  });
  return { id: w.id, title: w.title, unit: w.unit, direction: w.direction, contestants, goals, ratios, pairedRatios };
}

/**
 * A figure with three significant digits and k/M for rates.
 * @param {number | null} v
 * @param {string} unit
 * @param {boolean} [withUnit]
 */
export function fmt(v, unit, withUnit = true) {
  if (v === null || !Number.isFinite(v)) return '—';
  let s;
  if (unit.endsWith('/s') && v >= 1e6) s = `${(v / 1e6).toPrecision(3)} M`;
  else if (unit.endsWith('/s') && v >= 1e3) s = `${(v / 1e3).toPrecision(3)} k`;
  else s = v >= 1000 ? String(Math.round(v)) : v.toPrecision(3);
  return withUnit ? `${s} ${unit}` : s;
}

/** @param {number | null} r */
export const fmtRatio = (r) => (r === null ? '—' : `${r >= 100 ? Math.round(r) : r.toPrecision(3)}x`);

/**
 * The markdown table, its footnotes (reasons, leftovers) and the line that says what it ran on.
 * @param {WorkloadSummary[]} workloads
 * @param {{ machineLine: string, methodLine: string }} meta
 */
export function markdownTable(workloads, meta) {
  /** @type {string[]} */
  const notes = [];
  /** @param {string} text */
  const note = (text) => {
    let i = notes.indexOf(text);
    if (i < 0) i = notes.push(text) - 1;
    return `[${i + 1}]`;
  };
  /** @param {ContestantSummary} c */
  const warningsOf = (c) => c.warnings.map((w) => ` ${note(`${c.label}: ${w}`)}`).join('');
  /** @param {ContestantSummary} c @param {string} unit */
  const cellOf = (c, unit) => {
    if (c.status === 'ok') return fmt(c.median, unit, false) + (c.reason ? ` ${note(c.reason)}` : '') + warningsOf(c);
    return `${c.status} ${note(c.reason ?? c.status)}${warningsOf(c)}`;
  };
  const esc = (/** @type {string} */ s) => s.replace(/\|/g, '\\|');
  const rows = [
    '| Workload | multiproc: median (min–max) | Peers: median | Ratio (> 1: multiproc better) | Goal | Status |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const w of workloads) {
    const mine = w.contestants[0];
    const mineCell =
      mine.status === 'ok'
        ? `${fmt(mine.median, w.unit)} (${fmt(mine.min, w.unit, false)}–${fmt(mine.max, w.unit, false)})` +
          (mine.reason ? ` ${note(mine.reason)}` : '') +
          warningsOf(mine)
        : cellOf(mine, w.unit);
    const peers = w.contestants
      .slice(1)
      .map((c) => `${c.label}: ${cellOf(c, w.unit)}`)
      .join('<br>');
    const ratio = w.goals.map((g) => `${fmtRatio(g.ratio)} vs ${g.vsLabel}`).join('<br>') || '—';
    const goal = w.goals.map((g) => g.text).join('<br>') || 'report only';
    const status = w.goals.map((g) => (g.status === 'not met' ? '**not met**' : g.status)).join('<br>') || '—';
    rows.push(
      `| ${esc(w.title)} (${w.unit}) | ${esc(mineCell)} | ${esc(peers)} | ${esc(ratio)} | ${esc(goal)} | ${status} |`,
    );
  }
  const lines = [meta.machineLine, '', meta.methodLine, '', ...rows];
  if (notes.length) lines.push('', ...notes.map((n, i) => `${i + 1}. ${esc(n)}`));
  return lines.join('\n');
}

/** @param {string} s */
const xml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A horizontal bar per goal: the ratio on a log scale from 1x (bars right of the 1x line: multiproc
 * better), a tick at the goal, green when met, red when not, a grey note when missing.
 * @param {WorkloadSummary[]} workloads
 * @param {string} subtitle
 */
export function svgChart(workloads, subtitle) {
  const rows = workloads.flatMap((w) => w.goals.map((g) => ({ w, g })));
  const W = 960;
  const labelW = 330;
  const valueW = 110;
  const plotX = labelW;
  const plotW = W - labelW - valueW;
  const rowH = 26;
  const top = 64;
  const H = top + rows.length * rowH + 40;
  const lo = Math.log10(1 / 8);
  const hi = Math.log10(128);
  const x = (/** @type {number} */ r) =>
    plotX + ((Math.log10(Math.min(Math.max(r, 1 / 8), 128)) - lo) / (hi - lo)) * plotW;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">multiproc against its peers: ratio per goal (&gt; 1x: multiproc better, log scale)</text>`,
    `<text x="12" y="42" fill="#555">${xml(subtitle.length > 150 ? `${subtitle.slice(0, 149)}…` : subtitle)}</text>`,
  ];
  for (const t of [0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128]) {
    const tx = x(t).toFixed(1);
    out.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? '#333' : '#e3e3e3'}"/>`,
      `<text x="${tx}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${t < 1 ? `1/${1 / t}` : t}x</text>`,
    );
  }
  rows.forEach(({ w, g }, i) => {
    const y = top + i * rowH;
    const full = w.goals.length > 1 ? `${w.title} (vs ${g.vs})` : w.title;
    const label = full.length > 50 ? `${full.slice(0, 49)}…` : full;
    out.push(`<text x="${labelW - 8}" y="${y + 17}" text-anchor="end">${xml(label)}</text>`);
    if (g.ratio === null) {
      out.push(`<text x="${W - valueW + 8}" y="${y + 17}" fill="#888">${xml(g.status)}</text>`);
    } else {
      const x0 = x(1);
      const x1 = x(g.ratio);
      const color = g.status === 'met' ? '#2e7d32' : '#c62828';
      out.push(
        `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 5}" width="${Math.max(Math.abs(x1 - x0), 1).toFixed(1)}" height="${rowH - 10}" fill="${color}" opacity="0.85"/>`,
        `<text x="${W - valueW + 8}" y="${y + 17}" fill="${color}">${xml(fmtRatio(g.ratio))} ${g.status === 'met' ? 'met' : 'not met'}</text>`,
      );
    }
    const gx = x(g.target).toFixed(1);
    out.push(`<line x1="${gx}" y1="${y + 2}" x2="${gx}" y2="${y + rowH - 2}" stroke="#000" stroke-width="2"/>`);
  });
  out.push(
    `<text x="${plotX}" y="${H - 6}" fill="#555">black tick: the goal; green: met; red: not met; grey: no figure yet</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
