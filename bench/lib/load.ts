/** The timed load: N parallel HTTP clients POST pre-built frames; every response must be 2xx. */
import { Agent, request } from 'node:http';
import { FrameReader } from './frames.js';
import { Progress } from './progress.js';
import { sleep } from './proc.js';

export interface LoadOptions {
  url: string;
  contentType: string;
  framesPath: string;
  clients: number;
  totalPoints: number;
  label: string;
  maxFrames?: number;
  /** Called with each successful response body (V3: the write token). */
  onResponse?: (body: string) => void;
}

export interface LoadResult {
  points: number;
  frames: number;
  seconds: number;
  retries: number;
}

function post(agent: Agent, url: URL, contentType: string, body: Buffer): Promise<{ status: number; body: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, method: 'POST', hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), retryAfter: res.headers['retry-after'] as string | undefined }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function load(o: LoadOptions): Promise<LoadResult> {
  const reader = await FrameReader.open(o.framesPath, o.maxFrames);
  const agent = new Agent({ keepAlive: true, maxSockets: o.clients });
  const url = new URL(o.url);
  const bar = new Progress(o.label, o.totalPoints);
  let points = 0;
  let frames = 0;
  let retries = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const f = await reader.next();
      if (!f) return;
      for (let attempt = 0; ; attempt++) {
        const r = await post(agent, url, o.contentType, f.body);
        if (r.status >= 200 && r.status < 300) {
          o.onResponse?.(r.body);
          break;
        }
        if ((r.status === 503 || r.status === 429) && attempt < 100) {
          retries++;
          await sleep(Math.min(5000, 1000 * Number(r.retryAfter ?? 0.2)));
          continue;
        }
        throw new Error(`${o.label}: POST ${o.url} answered ${r.status}: ${r.body.slice(0, 500)}`);
      }
      points += f.points;
      frames++;
      bar.update(points);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.clients }, worker));
  } finally {
    await reader.close();
    agent.destroy();
  }
  bar.done(points);
  return { points, frames, retries, seconds: (performance.now() - t0) / 1000 };
}
