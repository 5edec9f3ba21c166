// Tests of the node list and the reconnect order (src/cluster.ts).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { clusterEndpoint, failoverOrder, maxClusterNodes, parseCluster } from "../src/cluster";

describe("clusterEndpoint", () => {
  const cases: [string, string][] = [
    ["ws://127.0.0.1:7350/ws", "http://127.0.0.1:7350/v1/cluster"],
    ["wss://n1.example.com/ws", "https://n1.example.com/v1/cluster"],
    ["wss://n1.example.com/game/ws", "https://n1.example.com/game/v1/cluster"],
    ["ws://[::1]:7350/ws?x=1#y", "http://[::1]:7350/v1/cluster"],
  ];
  for (const [ws, want] of cases) {
    test(ws, () => assert.equal(clusterEndpoint(ws), want));
  }
});

describe("parseCluster", () => {
  test("keeps ws and wss nodes, drops the rest", () => {
    const got = parseCluster({
      nodes: [
        { id: "n1", url: "ws://127.0.0.1:7350/ws" },
        { id: "n2", url: "wss://N2.example.com:443/ws" },
        { id: "n3", url: "http://127.0.0.1:7370/ws" },
        { id: "n4", url: "not a url" },
        { id: 5, url: "ws://127.0.0.1:7380/ws" },
        { id: "n1-again", url: "ws://127.0.0.1:7350/ws" },
        null,
        "ws://127.0.0.1:7390/ws",
      ],
    });
    assert.deepEqual(got, [
      { id: "n1", url: "ws://127.0.0.1:7350/ws" },
      { id: "n2", url: "wss://n2.example.com/ws" },
    ]);
  });
  test("an empty list", () => assert.deepEqual(parseCluster({ nodes: [] }), []));
  test("at most maxClusterNodes", () => {
    const nodes = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, url: `ws://127.0.0.1:${8000 + i}/ws` }));
    assert.equal(parseCluster({ nodes }).length, maxClusterNodes);
  });
  for (const bad of [null, 1, "x", [], {}, { nodes: {} }]) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseCluster(bad)));
  }
});

describe("failoverOrder", () => {
  const a = "ws://127.0.0.1:7001/ws";
  const b = "ws://127.0.0.1:7002/ws";
  const c = "ws://127.0.0.1:7003/ws";
  const d = "ws://127.0.0.1:7004/ws";
  test("where it was, the others after it in list order, then home", () => {
    assert.deepEqual(failoverOrder(b, [a, b, c, d], a), [b, c, d, a]);
  });
  test("home is last even when the list names it first", () => {
    assert.deepEqual(failoverOrder(c, [a, b, c], a), [c, b, a]);
  });
  test("on the page's node", () => {
    assert.deepEqual(failoverOrder(a, [a, b, c], a), [a, b, c]);
  });
  test("a current node the list no longer names", () => {
    assert.deepEqual(failoverOrder(d, [a, b, c], a), [d, b, c, a]);
  });
  test("no list: where it was, then home", () => {
    assert.deepEqual(failoverOrder(b, [], a), [b, a]);
    assert.deepEqual(failoverOrder(a, [], a), [a]);
  });
  test("URLs compare as URLs", () => {
    assert.deepEqual(failoverOrder("ws://Host:80/ws", ["ws://host/ws", "ws://other/ws"], "ws://host/ws"), [
      "ws://host/ws",
      "ws://other/ws",
    ]);
  });
});
