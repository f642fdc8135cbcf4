// The goals of issue 19, checked in every round of every row of the fairness section (reported,
// never asserted): each process's share of the acquisitions within ±30 % of an even split (50 ±
// 15 % for two processes), p99 wait <= 150 ms and max wait <= 300 ms (16 workers x 2 ms), and
// throughput >= 0.9x the critical section's ceiling. Also the text cells of the section's table:
// the shares of every round and the worst of them.

const pct = (x) => `${Math.round(x * 100)}`;
/** One decimal, so a share just inside or outside a bound reads as such (35.2 %, not 35 %). */
const pct1 = (x) => (x * 100).toFixed(1);
const verdict = (ok, all) => (ok === all ? `yes ${ok}/${all}` : `**no** ${ok}/${all}`);

/** The share farthest from even in a round (a fraction). */
function worstOf(shares) {
  const even = 1 / shares.length;
  return shares.reduce((w, s) => (Math.abs(s - even) > Math.abs(w - even) ? s : w), even);
}

const goals = [
  {
    label: 'shares within ±30 % of even',
    met: (r) => r.shares.every((s) => Math.abs(s - 1 / r.shares.length) <= 0.3 / r.shares.length + 1e-9),
    worst: (runs) => `worst ${pct1(worstOverRounds(runs))} %`,
  },
  { label: 'p99 <= 150 ms', waits: true, met: (r) => r.p99Ms <= 150, worst: (runs) => `worst ${Math.round(Math.max(...runs.map((r) => r.p99Ms)))} ms` },
  { label: 'max <= 300 ms', waits: true, met: (r) => r.maxMs <= 300, worst: (runs) => `worst ${Math.round(Math.max(...runs.map((r) => r.maxMs)))} ms` },
  { label: '>= 0.9x ceiling', met: (r) => r.xCeiling >= 0.9, worst: (runs) => `worst ${Math.min(...runs.map((r) => r.xCeiling)).toFixed(2)}x` },
];

function worstOverRounds(runs) {
  const even = 1 / runs[0].shares.length;
  return runs.map((r) => worstOf(r.shares)).reduce((w, s) => (Math.abs(s - even) > Math.abs(w - even) ? s : w), even);
}

/**
 * Adds each measured row's text cells (`text.shares`: every round's split, `text.worst`: the
 * share farthest from even over all rounds) and the section's goal table (`summary`), in place.
 * `groups`: the section's groups as planned; those with `waitGoals` are checked for p99 and max.
 */
export function addFairnessGoals(section, groups) {
  const measured = (row) => !row.skipped && row.runs?.length > 0;
  for (const group of section.groups) {
    for (const row of group.rows.filter(measured)) {
      row.text = {
        shares: row.runs.map((r) => `${r.shares.map(pct).join('/')}`).join(', ') + ' %',
        worst: `${pct1(worstOverRounds(row.runs))} %`,
      };
    }
  }
  const columns = section.groups.flatMap((g, i) =>
    goals.filter((goal) => !goal.waits || groups[i].waitGoals).map((goal) => ({ group: g, goal, label: `${g.label}: ${goal.label}` })),
  );
  const rowKeys = [...new Set(section.groups.flatMap((g) => g.rows.map((r) => r.key)))];
  const lines = [`| library | settings | ${columns.map((c) => c.label).join(' | ')} |`, `| --- | --- |${columns.map(() => ' --- |').join('')}`];
  for (const key of rowKeys) {
    const first = section.groups.flatMap((g) => g.rows).find((r) => r.key === key);
    const cells = columns.map(({ group, goal }) => {
      const row = group.rows.find((r) => r.key === key);
      if (!row || !measured(row)) return '–';
      const ok = row.runs.filter((r) => goal.met(r)).length;
      return `${verdict(ok, row.runs.length)} (${goal.worst(row.runs)})`;
    });
    lines.push(`| ${first.label} | ${first.settings ?? ''} | ${cells.join(' | ')} |`);
  }
  section.summary = [`### Goals of issue 19, every round (rounds met / rounds)`, lines.join('\n')].join('\n\n');
  section.textColumns = [
    { key: 'shares', label: 'process shares per round' },
    { key: 'worst', label: 'worst share' },
  ];
  return section;
}
