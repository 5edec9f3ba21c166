import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The repository root: clients/ts is two levels down (npm test runs in clients/ts). */
export const repo = process.env.TICKSYNC_REPO ?? resolve(process.cwd(), "../..");

export function read(path: string): Uint8Array {
  return new Uint8Array(readFileSync(resolve(repo, path)));
}

export function readText(path: string): string {
  return readFileSync(resolve(repo, path), "utf8");
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
