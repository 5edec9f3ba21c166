// The cluster's nodes as a client sees them: the list a node serves at
// GET /v1/cluster (the client URLs of the live nodes), and the order in which
// a client whose connection dropped tries them.
//
// Pure functions and one fetch; ArenaClient (client.ts) calls them on the
// page's thread.

/** One live node: its id and the ws(s) URL of its /ws (its -advertise). */
export interface ClusterNode {
  id: string;
  url: string;
}

/** The most nodes taken from one answer: a bound on a hostile one. */
export const maxClusterNodes = 64;

/**
 * clusterEndpoint is the URL of the node list beside a node's game endpoint:
 * ws://h:p/ws → http://h:p/v1/cluster, wss://h/game/ws →
 * https://h/game/v1/cluster (the last path segment is replaced, so a node
 * behind a path prefix is asked under the same prefix).
 */
export function clusterEndpoint(wsURL: string): string {
  const u = new URL(wsURL);
  if (u.protocol === "ws:") u.protocol = "http:";
  else if (u.protocol === "wss:") u.protocol = "https:";
  const out = new URL("v1/cluster", u);
  out.search = "";
  out.hash = "";
  return out.toString();
}

/**
 * parseCluster checks a /v1/cluster body and returns its nodes with a ws: or
 * wss: URL (at most maxClusterNodes, duplicates dropped); anything else is
 * left out. It throws when the body is not {"nodes": [...]}.
 */
export function parseCluster(body: unknown): ClusterNode[] {
  if (typeof body !== "object" || body === null || !Array.isArray((body as { nodes?: unknown }).nodes)) {
    throw new Error("cluster list: want {\"nodes\": [...]}");
  }
  const out: ClusterNode[] = [];
  const seen = new Set<string>();
  for (const n of (body as { nodes: unknown[] }).nodes) {
    if (out.length >= maxClusterNodes) break;
    if (typeof n !== "object" || n === null) continue;
    const { id, url } = n as { id?: unknown; url?: unknown };
    if (typeof id !== "string" || typeof url !== "string") continue;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      continue;
    }
    if ((u.protocol !== "ws:" && u.protocol !== "wss:") || seen.has(u.href)) continue;
    seen.add(u.href);
    out.push({ id, url: u.href });
  }
  return out;
}

/**
 * fetchCluster asks the node whose game endpoint is wsURL for its list of
 * live nodes, giving up after timeoutMs. It rejects on any failure (network,
 * status, body); the caller keeps the list it had.
 */
export async function fetchCluster(wsURL: string, timeoutMs: number): Promise<ClusterNode[]> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const resp = await fetch(clusterEndpoint(wsURL), {
      signal: ctl.signal,
      cache: "no-store",
      credentials: "omit",
      // No Referer: the node needs none, and the page's query may hold a token.
      referrerPolicy: "no-referrer",
    });
    if (!resp.ok) throw new Error(`cluster list: HTTP ${resp.status}`);
    return parseCluster(await resp.json());
  } finally {
    clearTimeout(timer);
  }
}

/**
 * failoverOrder is the order in which a client whose connection to current
 * dropped tries to get back: first where it was (a blip, or a restart of
 * that node), then the other known nodes in the order of the list starting
 * after current (so that clients of different nodes spread out), then home,
 * the node that served the page. Duplicates are dropped. Any of them
 * redirects the client to its match's owner, and the resume token keeps its
 * seat.
 */
export function failoverOrder(current: string, known: readonly string[], home: string): string[] {
  const out: string[] = [];
  const add = (u: string) => {
    if (u !== "" && !out.includes(u)) out.push(u);
  };
  const cur = normalizeURL(current);
  const own = normalizeURL(home);
  const list = known.map(normalizeURL);
  add(cur);
  const at = list.indexOf(cur);
  const rotated = at < 0 ? list : [...list.slice(at + 1), ...list.slice(0, at)];
  for (const u of rotated) {
    if (u !== own) add(u);
  }
  add(own);
  return out;
}

/**
 * stallFailoverOrder is failoverOrder for a connection that stalled (no
 * snapshot for the stall window): the node it was on is likely stopped, so
 * it goes last instead of first, after the other nodes and home.
 */
export function stallFailoverOrder(current: string, known: readonly string[], home: string): string[] {
  const out = failoverOrder(current, known, home);
  return out.length > 1 ? [...out.slice(1), out[0]!] : out;
}

/** normalizeURL spells a URL the one way URL does (default port dropped, host in lower case). */
export function normalizeURL(u: string): string {
  try {
    return new URL(u).href;
  } catch {
    return u;
  }
}
