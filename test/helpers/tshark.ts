/**
 * tshark as an independent judge of podwire's captures: does every frame
 * dissect cleanly, with correct IPv4 / ICMP / UDP / TCP checksums?
 *
 * Checked against TShark 4.0 (Debian 12). Its IPv4, UDP and TCP checksum
 * checks are off by default (`tshark -G defaultprefs | grep check_checksum`
 * lists ip/udp/tcp.check_checksum: FALSE); ICMP and ICMPv6 checksums have no
 * preference and are always verified.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';

/** Preferences that turn on the checksum checks tshark leaves off by default. */
export const TSHARK_CHECKSUM_PREFS: readonly string[] = [
  '-o', 'ip.check_checksum:TRUE',
  '-o', 'udp.check_checksum:TRUE',
  '-o', 'tcp.check_checksum:TRUE',
];

// Expert info encoding (epan/proto.h): severity in bits 20-23, group in bits 24-27.
const PI_WARN = 0x00600000;
const PI_ERROR = 0x00800000;
const PI_CHECKSUM = 0x01000000;
const PI_MALFORMED = 0x07000000;
const SEVERITY_NAMES: Record<number, string> = {
  0x00100000: 'Comment',
  0x00200000: 'Chat',
  0x00400000: 'Note',
  [PI_WARN]: 'Warning',
  [PI_ERROR]: 'Error',
};

/** Unit separator: cannot appear in an expert message, unlike ',' (tshark's default aggregator). */
const AGGREGATOR = '\x1f';

/** Absolute path of tshark from $TSHARK or PATH, or null when it is not installed. */
export function tsharkPath(): string | null {
  const candidates = process.env.TSHARK ? [process.env.TSHARK] : [];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'tshark'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here; try the next directory
    }
  }
  return null;
}

export interface TsharkCheck {
  /** Frames tshark read. */
  frames: number;
  /** "frame N: ..." for every malformed frame, bad checksum or error-level expert item, plus tshark's own errors. */
  problems: string[];
  /** "frame N: ..." for warning-level expert items that are not problems (e.g. a TCP reset); for information. */
  warnings: string[];
}

const CHECK_FIELDS = [
  'frame.number',
  '_ws.expert.severity',
  '_ws.expert.group',
  '_ws.expert.message',
  '_ws.malformed',
  'ip.checksum.status',
  'icmp.checksum.status',
  'icmpv6.checksum.status',
  'udp.checksum.status',
  'tcp.checksum.status',
] as const;
const STATUS_PROTOCOLS = ['ip', 'icmp', 'icmpv6', 'udp', 'tcp'] as const;
/** Value of *.checksum.status meaning "Bad" (epan/proto.h, PROTO_CHECKSUM_E_BAD). */
const CHECKSUM_STATUS_BAD = '0';

/**
 * Runs tshark over a capture with checksum validation on and reports every
 * malformed frame and every bad checksum. A capture is clean when
 * `problems` is empty.
 */
export async function checkCaptureWithTshark(file: string): Promise<TsharkCheck> {
  const problems: string[] = [];
  const warnings: string[] = [];
  let frames = 0;
  const run = await runTshark(file, CHECK_FIELDS, [...TSHARK_CHECKSUM_PREFS], (cols) => {
    frames++;
    const frame = cols[0];
    const severities = split(cols[1]);
    const groups = split(cols[2]);
    const messages = split(cols[3]);
    // Which protocols tshark marked Bad, named in the checksum problems (expert messages do not say).
    const bad = STATUS_PROTOCOLS.filter((_, i) => split(cols[5 + i]).includes(CHECKSUM_STATUS_BAD));
    const badNote = bad.length > 0 ? ` (bad: ${bad.join(', ')})` : '';
    let checksumReported = false;
    for (let i = 0; i < messages.length; i++) {
      const severity = Number(severities[i]);
      const group = Number(groups[i]);
      const line = `frame ${frame}: [${SEVERITY_NAMES[severity] ?? severity}${groupName(group)}] ${messages[i]}`;
      if (group === PI_CHECKSUM) {
        problems.push(line + badNote);
        checksumReported = true;
      } else if (severity >= PI_ERROR || group === PI_MALFORMED) {
        problems.push(line);
      } else if (severity >= PI_WARN) {
        warnings.push(line);
      }
    }
    // An exception without an expert entry still marks the frame malformed.
    if ((cols[4] ?? '') !== '' && !messages.some((m) => /malformed/i.test(m))) {
      problems.push(`frame ${frame}: malformed packet`);
    }
    // Belt and braces: a checksum marked Bad without an expert entry.
    if (!checksumReported && bad.length > 0) problems.push(`frame ${frame}: checksum status Bad${badNote}`);
  });
  problems.push(...run.errors);
  return { frames, problems, warnings };
}

/**
 * Dissects a capture and returns one row per frame with the given fields
 * (`-T fields -E separator=\t -e ...`). Fields that occur several times in a
 * frame are joined with ','. Pass a display filter and extra arguments (e.g.
 * TSHARK_CHECKSUM_PREFS) as needed. Rejects if tshark fails.
 */
export async function tsharkFields(
  file: string,
  fields: readonly string[],
  options: { filter?: string; args?: readonly string[] } = {},
): Promise<string[][]> {
  const rows: string[][] = [];
  const args = [...(options.args ?? [])];
  if (options.filter !== undefined) args.push('-Y', options.filter);
  const run = await runTshark(file, fields, args, (cols) => rows.push(cols.map((c) => c.split(AGGREGATOR).join(','))));
  if (run.errors.length > 0) throw new Error(`tshark failed on ${file}: ${run.errors.join('; ')}`);
  return rows;
}

function split(col: string | undefined): string[] {
  return col ? col.split(AGGREGATOR) : [];
}

function groupName(group: number): string {
  if (group === PI_CHECKSUM) return '/Checksum';
  if (group === PI_MALFORMED) return '/Malformed';
  return '';
}

/**
 * Spawns `tshark -r file -n -T fields ...`, streaming rows to onRow so large
 * captures are not held in memory. Resolves with tshark's errors: a non-zero
 * exit and any stderr line other than the running-as-root notice.
 */
function runTshark(
  file: string,
  fields: readonly string[],
  extraArgs: readonly string[],
  onRow: (cols: string[]) => void,
): Promise<{ errors: string[] }> {
  const tshark = tsharkPath();
  if (!tshark) return Promise.reject(new Error('tshark is not installed (not on PATH)'));
  const args = ['-r', file, '-n', ...extraArgs, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', `aggregator=${AGGREGATOR}`];
  for (const f of fields) args.push('-e', f);
  const child = spawn(tshark, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  lines.on('line', (line) => onRow(line.split('\t')));
  const rowsDone = new Promise<void>((resolve) => lines.once('close', resolve));
  const exited = new Promise<string | number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return Promise.all([exited, rowsDone]).then(([code]) => {
    const errors: string[] = [];
    for (const l of stderr.split('\n')) {
      const t = l.trim();
      if (t && !/^Running as user .* This could be dangerous\.$/.test(t)) errors.push(`tshark: ${t}`);
    }
    if (code !== 0) errors.push(`tshark exited with ${code}`);
    return { errors };
  });
}
