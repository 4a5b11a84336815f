/**
 * The regression gate's result as text (the console), Markdown (a CI job summary) and JUnit
 * XML (a CI test report). Pure: a GateResult in, a string out.
 */
import { formatNumber } from './console.js';
import type { GateCheck, GateResult, Verdict } from './gate.js';

function show(value: number, unit: string): string {
  if (unit === '') return value.toFixed(4);
  if (unit === 'B') return `${formatNumber(value / 1_048_576)} MiB`;
  return `${formatNumber(value)} ${unit}`;
}

function changeText(change: number | null): string {
  if (change === null) return 'n/a';
  const pct = change * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

function testText(check: GateCheck): string {
  return check.test.method === 'welch-t'
    ? `p=${check.test.p_value < 0.001 ? check.test.p_value.toExponential(1) : check.test.p_value.toFixed(3)}`
    : 'ratio (no test)';
}

export function renderGateText(result: GateResult): string {
  const lines: string[] = [];
  if (result.baseline_source !== null) {
    lines.push(
      `regression gate: ${result.current_source} against ${result.baseline_source}`,
      `  tolerance ${(result.max_regression * 100).toFixed(0)}%${result.checks.some((c) => c.test.method === 'welch-t') ? `, Welch's t-test at alpha ${result.alpha}` : ''}`,
      '',
    );
    const header = ['level', 'metric', 'baseline', 'current', 'change', 'test', 'verdict'];
    const rows = result.checks.map((check) => [
      check.level,
      check.metric,
      show(check.baseline.mean, check.unit),
      show(check.current.mean, check.unit),
      changeText(check.change),
      testText(check),
      check.verdict === 'worse' ? 'WORSE' : check.verdict,
    ]);
    lines.push(...table(header, rows));
    const notes = [
      ...new Set(result.checks.flatMap((c) => (c.test.method === 'ratio' ? [c.test.note] : []))),
    ];
    for (const note of notes) lines.push(`  note: ${note}`);
  }
  if (result.thresholds.length > 0) {
    lines.push('', 'thresholds:');
    for (const t of result.thresholds) {
      lines.push(`  ${t.passed ? 'ok  ' : 'FAIL'} ${t.threshold} at ${t.level} (${formatNumber(t.value)})`);
    }
  }
  for (const level of result.unmatched) lines.push(`  not compared: ${level}`);
  if (result.findings.length > 0) {
    lines.push('', 'findings:');
    for (const finding of result.findings) lines.push(`  - ${finding}`);
  }
  lines.push('', verdictLine(result));
  return `${lines.join('\n')}\n`;
}

export function verdictLine(result: GateResult): string {
  if (result.verdict === 'ok') {
    return `verdict: ok (${result.checks.length} checks, ${result.thresholds.length} thresholds; nothing worse beyond the noise)`;
  }
  const parts: string[] = [];
  if (result.regressions > 0) {
    parts.push(
      `${result.regressions} regression(s): ${result.checks
        .filter((c) => c.verdict === 'worse')
        .map((c) => `${c.metric} at ${c.level} ${changeText(c.change)}`)
        .join('; ')}`,
    );
  }
  if (result.failed_thresholds > 0) {
    parts.push(
      `${result.failed_thresholds} failed threshold(s): ${result.thresholds
        .filter((t) => !t.passed)
        .map((t) => `${t.threshold} at ${t.level}`)
        .join('; ')}`,
    );
  }
  return `verdict: REGRESSION — ${parts.join('; ')}`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A Markdown summary fit for a pull-request comment. */
export function renderGateMarkdown(result: GateResult): string {
  const icon = (v: Verdict) => (v === 'worse' ? '🔴 worse' : v === 'better' ? '🟢 better' : '⚪ same');
  const lines = [`### meshbench: ${result.verdict === 'ok' ? '✅ no regression' : '❌ regression'}`, ''];
  if (result.baseline_source !== null) {
    lines.push(
      `Current \`${result.current_source}\` against baseline \`${result.baseline_source}\`, tolerance ${(result.max_regression * 100).toFixed(0)}%.`,
      '',
      '| level | metric | baseline | current | change | test | verdict |',
      '| --- | --- | ---: | ---: | ---: | --- | --- |',
      ...result.checks.map(
        (c) =>
          `| ${c.level} | ${c.metric} | ${show(c.baseline.mean, c.unit)} | ${show(c.current.mean, c.unit)} | ${changeText(c.change)} | ${testText(c)} | ${icon(c.verdict)} |`,
      ),
      '',
    );
  }
  if (result.thresholds.length > 0) {
    lines.push('| threshold | level | value | result |', '| --- | --- | ---: | --- |');
    for (const t of result.thresholds) {
      lines.push(
        `| \`${t.threshold}\` | ${t.level} | ${formatNumber(t.value)} | ${t.passed ? '✅' : '❌'} |`,
      );
    }
    lines.push('');
  }
  for (const finding of result.findings) lines.push(`- ${finding}`);
  return `${lines.join('\n')}\n`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JUnit XML: each check and threshold a test case, a regression a failure. */
export function renderGateJunit(result: GateResult): string {
  const cases: string[] = [];
  for (const c of result.checks) {
    const name = xml(`${c.metric} at ${c.level}`);
    const detail = xml(
      `baseline ${show(c.baseline.mean, c.unit)}, current ${show(c.current.mean, c.unit)}, change ${changeText(c.change)}, ${testText(c)}`,
    );
    cases.push(
      c.verdict === 'worse'
        ? `    <testcase classname="meshbench.regression" name="${name}"><failure message="worse: ${detail}">${detail}</failure></testcase>`
        : `    <testcase classname="meshbench.regression" name="${name}"><system-out>${c.verdict}: ${detail}</system-out></testcase>`,
    );
  }
  for (const t of result.thresholds) {
    const name = xml(`${t.threshold} at ${t.level}`);
    cases.push(
      t.passed
        ? `    <testcase classname="meshbench.threshold" name="${name}"/>`
        : `    <testcase classname="meshbench.threshold" name="${name}"><failure message="${xml(`value ${formatNumber(t.value)}`)}"/></testcase>`,
    );
  }
  const failures = result.regressions + result.failed_thresholds;
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="meshbench" tests="${cases.length}" failures="${failures}">
  <testsuite name="meshbench compare" tests="${cases.length}" failures="${failures}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
