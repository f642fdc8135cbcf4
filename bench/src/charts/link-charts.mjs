// Puts each chart under its section's heading in a report's markdown: `![title](charts/...svg)`.
// Running it again replaces the links it put there, so a report can be re-linked.

const chartLine = /^!\[[^\]]*\]\(charts\/[^)]*\.svg\)$/;

const altText = (title) => title.replace(/[[\]\\]/g, (c) => `\\${c}`);

/** `markdown` with a chart link under the `## <title>` heading of each of `links` ({ title, href }). */
export function linkCharts(markdown, links) {
  const lines = markdown.split('\n');
  let from = 0;
  for (const { title, href } of links) {
    const heading = lines.indexOf(`## ${title}`, from);
    if (heading < 0) continue;
    let next = heading + 1;
    while (next < lines.length && lines[next] === '') next++;
    const link = `![${altText(title)}](${href})`;
    if (chartLine.test(lines[next] ?? '')) lines[next] = link;
    else lines.splice(heading + 1, 0, '', link);
    from = heading + 1;
  }
  return lines.join('\n');
}
