/**
 * Pre-built request bodies on disk: a sequence of frames `[u32 LE length][u32 LE points][length bytes]`. Bodies are
 * built once (and cached) before any timing, so the timed load only reads bytes and sends them.
 */
import { open, type FileHandle } from 'node:fs/promises';

export class FrameWriter {
  private constructor(private readonly fh: FileHandle) {}
  frames = 0;
  points = 0;
  bytes = 0;
  static async create(path: string): Promise<FrameWriter> {
    return new FrameWriter(await open(path, 'w'));
  }
  async write(body: Buffer, points: number): Promise<void> {
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(body.length, 0);
    head.writeUInt32LE(points, 4);
    await this.fh.writev([head, body]);
    this.frames++;
    this.points += points;
    this.bytes += body.length;
  }
  async close(): Promise<void> {
    await this.fh.sync();
    await this.fh.close();
  }
}

/** Reads frames in order; `next()` is safe to call from concurrent workers (reads are serialised). */
export class FrameReader {
  private pos = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly maxFrames: number,
  ) {}
  private read = 0;
  static async open(path: string, maxFrames = Infinity): Promise<FrameReader> {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    return new FrameReader(fh, st.size, maxFrames);
  }
  next(): Promise<{ body: Buffer; points: number } | undefined> {
    const p = this.chain.then(async () => {
      if (this.pos >= this.size || this.read >= this.maxFrames) return undefined;
      const head = Buffer.allocUnsafe(8);
      await this.fh.read(head, 0, 8, this.pos);
      const len = head.readUInt32LE(0);
      const points = head.readUInt32LE(4);
      const body = Buffer.allocUnsafe(len);
      const { bytesRead } = await this.fh.read(body, 0, len, this.pos + 8);
      if (bytesRead !== len) throw new Error(`short frame at ${this.pos}`);
      this.pos += 8 + len;
      this.read++;
      return { body, points };
    });
    this.chain = p.catch(() => undefined);
    return p;
  }
  async close(): Promise<void> {
    await this.fh.close();
  }
}
