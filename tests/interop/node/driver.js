'use strict';
// Drives the C interop agent (tests/fixtures/channel.c, interop_agent) over
// Node's own IPC channel and asserts every result. `ep` is the other end:
// a ChildProcess (Node is the parent) or `process` (Node is the child).
// Exits 0 when the scenario passed, 1 with a message when it did not.
const assert = require('assert');
const dgram = require('dgram');
const net = require('net');
const { once } = require('events');

function inbox(ep) {
  const queue = [];
  const waiters = [];
  ep.on('message', (m, h) => {
    if (waiters.length) waiters.shift()({ m, h });
    else queue.push({ m, h });
  });
  return () =>
    queue.length
      ? Promise.resolve(queue.shift())
      : new Promise((resolve) => waiters.push(resolve));
}

function readAll(sock) {
  return new Promise((resolve, reject) => {
    let s = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => (s += d));
    sock.on('end', () => resolve(s));
    sock.on('error', reject);
  });
}

async function listen(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

const scenarios = {
  async messages(ep, next) {
    const n = 1000;
    for (let i = 0; i < n; i++)
      ep.send({ op: 'echo', data: { i, s: 'w\u00f6rld \u20ac \u{1F600} \u2028', a: [1, null, true, 1.5] } });
    for (let i = 0; i < n; i++) {
      const { m, h } = await next();
      assert.deepStrictEqual(m, { op: 'echo', data: { i, s: 'w\u00f6rld \u20ac \u{1F600} \u2028', a: [1, null, true, 1.5] } });
      assert.strictEqual(h, undefined);
    }
    // Node -> C internal message: the agent sees it as internal only.
    ep.send({ cmd: 'NODE_MUSTER_PING' });
    assert.strictEqual((await next()).m.op, 'saw-internal');
    // C -> Node internal message: never a 'message' event.
    ep.send({ op: 'internal' });
    assert.strictEqual((await next()).m.op, 'after-internal');
    // Scalars are messages too.
    ep.send({ op: 'echo', data: null });
    assert.deepStrictEqual((await next()).m, { op: 'echo', data: null });
  },

  async large(ep, next) {
    const size = 8 << 20;
    const big = 'y'.repeat(size);
    ep.send({ op: 'echo', data: big });
    const r = await next();
    assert.strictEqual(r.m.data.length, size);
    assert.ok(r.m.data === big);
    ep.send({ op: 'big', size });
    const r2 = await next();
    assert.strictEqual(r2.m.op, 'big');
    assert.strictEqual(r2.m.data.length, size);
    assert.ok(/^x+$/.test(r2.m.data));
  },

  async handles(ep, next) {
    // 1. A Node net.Server to C: C accepts a real connection on it.
    const srv = net.createServer(() => assert.fail('the parent accepted'));
    const port = await listen(srv);
    ep.send({ op: 'accept' }, srv, (err) => {
      assert.ifError(err);
      srv.close();
    });
    assert.strictEqual((await next()).m.op, 'accepting');
    assert.strictEqual(await readAll(net.connect(port, '127.0.0.1')), 'hello from C\n');
    assert.strictEqual((await next()).m.op, 'accepted');

    // 2. A connected net.Socket to C: C writes on it.
    const srv2 = net.createServer();
    const port2 = await listen(srv2);
    const client = net.connect(port2, '127.0.0.1');
    const [sock] = await once(srv2, 'connection');
    const got = readAll(client);
    ep.send({ op: 'write' }, sock);
    assert.strictEqual((await next()).m.op, 'written');
    assert.strictEqual(await got, 'hello from C\n');
    srv2.close();

    // 3. C sends a listening socket: Node gets a net.Server, serving.
    ep.send({ op: 'listen' });
    const r = await next();
    assert.strictEqual(r.m.op, 'server');
    assert.ok(r.h instanceof net.Server, 'got a net.Server');
    r.h.on('connection', (s) => s.end('hello from node\n'));
    assert.strictEqual(await readAll(net.connect(r.m.port, '127.0.0.1')), 'hello from node\n');
    r.h.close();

    // 4. C connects to a Node server and sends the connected socket.
    const srv3 = net.createServer((s) => s.end('from node server\n'));
    const port3 = await listen(srv3);
    ep.send({ op: 'connect', port: port3 });
    const r3 = await next();
    assert.strictEqual(r3.m.op, 'socket');
    assert.ok(r3.h instanceof net.Socket, 'got a net.Socket');
    assert.strictEqual(await readAll(r3.h), 'from node server\n');
    srv3.close();
  },

  async udp(ep, next) {
    // 1. C sends a bound UDP socket: Node gets a dgram.Socket, receiving.
    ep.send({ op: 'udp' });
    const r = await next();
    assert.strictEqual(r.m.op, 'udp');
    assert.ok(r.h instanceof dgram.Socket, 'got a dgram.Socket');
    const got = once(r.h, 'message');
    const tx = dgram.createSocket('udp4');
    tx.send('hello udp', r.m.port, '127.0.0.1');
    const [msg] = await got;
    assert.strictEqual(msg.toString(), 'hello udp');
    r.h.close();

    // 2. Node sends its dgram.Socket to C, closes its own copy; C receives.
    const rx = dgram.createSocket('udp4');
    rx.bind(0, '127.0.0.1');
    await once(rx, 'listening');
    const port = rx.address().port;
    ep.send({ op: 'udp-recv' }, rx, () => rx.close());
    assert.strictEqual((await next()).m.op, 'udp-ready');
    tx.send('ping', port, '127.0.0.1');
    const r2 = await next();
    assert.deepStrictEqual(r2.m, { op: 'udp-got', data: 'ping' });
    tx.close();
  },

  // Node disconnects; the C side notices and ends.
  async 'node-disconnects'(ep, next) {},

  // C disconnects; Node sees 'disconnect'.
  async 'c-disconnects'(ep, next) {
    const d = once(ep, 'disconnect');
    ep.send({ op: 'disconnect' });
    await d;
    assert.strictEqual(ep.connected, false);
  },
};

async function run(ep, name, onDone) {
  const timer = setTimeout(() => {
    console.error(`interop ${name}: timed out`);
    process.exit(1);
  }, 60000);
  timer.unref();
  try {
    const scenario = scenarios[name];
    assert.ok(scenario, `no scenario ${name}`);
    await scenario(ep, inbox(ep));
    if (ep.connected) ep.disconnect();
    await onDone();
    console.log(`interop ${name}: ok`);
  } catch (e) {
    console.error(`interop ${name}: FAILED`, e);
    process.exit(1);
  }
}

module.exports = { run };
