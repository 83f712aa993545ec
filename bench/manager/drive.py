"""The measuring half of bench/manager.sh (read its header first).

    python3 drive.py NAME HOME_VAR HOME CLI... 

Runs every phase against one manager (muster or PM2; the CLI is the
command that runs it, HOME_VAR=HOME is set for each call) and prints one
JSON object of figures on its last line. Only 127.0.0.1 is touched."""
import json, os, re, select, shutil, socket, statistics, subprocess, sys, time

name, home_var, home = sys.argv[1:4]
cli = sys.argv[4:]
env = dict(os.environ, **{home_var: home})
env.pop('NODE_EXTRA_CA_CERTS', None)
app_c = os.environ['MBENCH_APP_C']
app_js = os.environ['MBENCH_APP_JS']
empty = os.environ['MBENCH_FLOOR']  # an empty program (static if it could be)
rawls = os.environ.get('MBENCH_RAWLS')  # muster's list call, system calls only
port0 = int(os.environ.get('MBENCH_PORT', '19100')) + (0 if name == 'muster' else 50)
runs = int(os.environ.get('LS_RUNS', '15'))
many = int(os.environ.get('MANY', '1000'))
flood_s = float(os.environ.get('FLOOD_SECONDS', '3'))
flood_mb = float(os.environ.get('FLOOD_MB', '1000'))
flood_chunk = os.environ.get('FLOOD_CHUNK', '64000')
fig = {}


def log(*a):
    print(f'  [{name}]', *a, flush=True)


def run(*args, timeout=120, extra=None, quiet=True):
    e = dict(env, **(extra or {}))
    t0 = time.monotonic()
    r = subprocess.run(cli + list(args), env=e, timeout=timeout,
                       stdout=subprocess.PIPE if quiet else None,
                       stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f'{name} {" ".join(args)}: exit {r.returncode}: '
                           f'{r.stderr.decode()[-400:]}')
    return dt * 1e3, r.stdout


def daemon_pid():
    if name == 'muster':
        return int(open(os.path.join(home, 'daemon.lock')).read().split()[0])
    return int(open(os.path.join(home, 'pm2.pid')).read().split()[0])


def rss_kb(pid, field='VmRSS:'):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith(field):
            return int(line.split()[1])


def anon_kb(pid):
    """The private part of RSS: the rest is shared library pages."""
    return rss_kb(pid, 'RssAnon:')


def wall_ms(argv):
    """Median wall time of argv run `runs` times as the CLI is run."""
    xs = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL)
        xs.append((time.monotonic() - t0) * 1e3)
    return med(xs)


def hyperfine_ms(argvs, n):
    """hyperfine -N (no shell) medians in ms of each command, or {}."""
    if not shutil.which('hyperfine'):
        return {}
    out = os.path.join(home, 'hyperfine.json')
    cmds = [' '.join(a) for a in argvs]
    r = subprocess.run(['hyperfine', '-N', '-w', '3', '-r', str(n),
                        '--export-json', out] + cmds, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return {}
    res = json.load(open(out))['results']
    return {c: round(x['median'] * 1e3, 2) for c, x in zip(cmds, res)}


def cpu_s(pid):
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')


def listening(port):
    s = socket.socket()
    try:
        s.connect(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def poll_listen(port, t0, limit=15.0):
    while not listening(port):
        if time.monotonic() - t0 > limit:
            raise RuntimeError(f'{name}: nothing listens on {port}')
        time.sleep(0.001)
    return (time.monotonic() - t0) * 1e3


def children(pid):
    """The daemon's child pids (each thread's list: a fork can come from any)."""
    kids = set()
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            kids.update(open(f'/proc/{pid}/task/{t}/children').read().split())
        except OSError:
            pass
    return kids


def poll_new_child(pid, before, t0, limit=15.0):
    """Time from t0 to a child of pid that is not in before (0.2 ms polls)."""
    while not (children(pid) - before):
        if time.monotonic() - t0 > limit:
            raise RuntimeError(f'{name}: no new child of {pid}')
        time.sleep(0.0002)
    return (time.monotonic() - t0) * 1e3


def jlist():
    return json.loads(run('jlist')[1])


def pids():
    return {a['name']: a['pid'] for a in jlist()}


def start_args(script, app, interp, args):
    a = ['start', script, '--name', app]
    if interp:
        a += ['--interpreter', interp]
    return a + ['--'] + args


def med(xs):
    return round(statistics.median(xs), 2)


def time_ls(label):
    """ls and jlist, next to what starting any program costs at that
    moment: /bin/true and an empty program (the floor; static when the
    machine has libc.a), each timed the same way just before."""
    fig[f'true_{label}_ms'] = wall_ms(['/bin/true'])
    floor = fig[f'floor_{label}_ms'] = wall_ms([empty])
    ls, jl = [], []
    for _ in range(runs):
        ls.append(run('ls')[0])
        jl.append(run('jlist')[0])
    fig[f'ls_{label}_ms'], fig[f'jlist_{label}_ms'] = med(ls), med(jl)
    fig[f'ls_{label}_over_floor_ms'] = round(med(ls) - floor, 2)
    fig[f'jlist_{label}_over_floor_ms'] = round(med(jl) - floor, 2)
    log(f'ls {med(ls)} ms (floor +{med(ls) - floor:.2f}), jlist {med(jl)} ms '
        f'(floor +{med(jl) - floor:.2f}) with {label} apps (median of {runs}; '
        f'/bin/true {fig[f"true_{label}_ms"]} ms, empty program {floor} ms)')


def time_hyperfine():
    """hyperfine -N of ls and ping (10 apps), /bin/true and the floor;
    for muster also the raw client (rawls.c: the list call's system calls
    and nothing else), the limit of any CLI that asks the daemon."""
    n = runs * 20 if name == 'muster' else runs
    cmds = {'ls': cli + ['ls'], 'ping': cli + ['ping'],
            'true': ['/bin/true'], 'floor': [empty]}
    if name == 'muster' and rawls:
        cmds['raw'] = [rawls]
    got = hyperfine_ms(list(cmds.values()), n)
    if not got:
        log('hyperfine: not installed or failed; its figures are skipped')
        return
    for k, argv in cmds.items():
        fig[f'hf_{k}_ms'] = got[' '.join(argv)]
    f = fig['hf_floor_ms']
    for k in ('ls', 'ping'):
        fig[f'hf_{k}_over_floor_ms'] = round(fig[f'hf_{k}_ms'] - f, 2)
    raw = ''
    if 'hf_raw_ms' in fig:
        fig['hf_ls_over_raw_ms'] = round(fig['hf_ls_ms'] - fig['hf_raw_ms'], 2)
        raw = (f', raw list call {fig["hf_raw_ms"]} ms (ls '
               f'+{fig["hf_ls_over_raw_ms"]})')
    log(f'hyperfine -N (median of {n}): ls {fig["hf_ls_ms"]} ms '
        f'(floor +{fig["hf_ls_over_floor_ms"]}), ping {fig["hf_ping_ms"]} ms '
        f'(floor +{fig["hf_ping_over_floor_ms"]}), /bin/true '
        f'{fig["hf_true_ms"]} ms, empty program {f} ms{raw}')


# 1. idle daemon
run('ping')
time.sleep(1.0)
dpid = daemon_pid()
fig['rss_idle_kb'] = rss_kb(dpid)
fig['anon_idle_kb'] = anon_kb(dpid)
log(f'daemon pid {dpid}: {fig["rss_idle_kb"]} kB idle '
    f'({fig["anon_idle_kb"]} kB private)')

# 2. ten apps: 5 C + 5 Node, each on its own port; start and → listening
st = {'c': [], 'node': []}
li = {'c': [], 'node': []}
apps = []
# The C apps first. Interleaved, each C app was started the moment the
# Node app before it listened, while that Node process was still busy
# with its start-up on one of the 2 vCPUs: the C apps' `start` took
# 13.9 ms, the Node apps' 7.9 ms, in the same run.
for i in range(10):
    kind = 'c' if i < 5 else 'node'
    port = port0 + i
    app = f'{kind}{i}'
    script, interp = (app_c, 'none') if kind == 'c' else (app_js, None)
    t0 = time.monotonic()
    ms, _ = run(*start_args(script, app, interp, [str(port)]))
    li[kind].append(poll_listen(port, t0))
    st[kind].append(ms)
    apps.append((app, kind, port))
for k in ('c', 'node'):
    fig[f'start_{k}_ms'] = med(st[k])
    fig[f'start_listen_{k}_ms'] = med(li[k])
    log(f'{k} app: start {med(st[k])} ms, start → listening {med(li[k])} ms '
        '(median of 5)')
time.sleep(1.0)
fig['rss_10_kb'] = rss_kb(dpid)
fig['anon_10_kb'] = anon_kb(dpid)
log(f'daemon {fig["rss_10_kb"]} kB with 10 apps')
time_ls('10')
time_hyperfine()
for k in ('c', 'node'):
    fig[f'start_{k}_over_floor_ms'] = round(fig[f'start_{k}_ms'] -
                                            fig['floor_10_ms'], 2)

# 3. SIGKILL → a new process (the replacement's pid: the daemon's new
# child), then → the replacement listening, twice per app
kl = {'c': [], 'node': []}
kp = {'c': [], 'node': []}
for rnd in range(2):
    p = pids()
    for app, kind, port in apps:
        pid = p[app]
        fd = os.pidfd_open(pid)
        before = children(dpid) - {str(pid)}
        t0 = time.monotonic()
        os.kill(pid, 9)
        kp[kind].append(poll_new_child(dpid, before, t0))
        select.select([fd], [], [], 5)
        os.close(fd)
        kl[kind].append(poll_listen(port, t0))
    time.sleep(1.2)   # past min_uptime, so no restart counts as unstable
for k in ('c', 'node'):
    fig[f'kill_newpid_{k}_ms'] = med(kp[k])
    fig[f'kill_listen_{k}_ms'] = med(kl[k])
    log(f'{k} app: SIGKILL → new pid {med(kp[k])} ms, → replacement '
        f'listening {med(kl[k])} ms (median of {len(kl[k])})')

# 4. log flood: first the yardstick (the app into a bare relay, no
# manager), then the same app under the manager
relay_f = os.path.join(home, 'relay.out')
r = subprocess.run([app_c, 'relay', relay_f, str(flood_s), str(flood_mb),
                    flood_chunk], stdout=subprocess.PIPE, check=True)
fig['log_relay_mb_s'] = float(r.stdout.split()[3])
os.unlink(relay_f)
rss0, cpu0 = rss_kb(dpid), cpu_s(dpid)
logf = os.path.join(home, 'logs', 'flood-out.log')
run(*start_args(app_c, 'flood', 'none',
                ['flood', str(flood_s), str(flood_mb), flood_chunk]))
t0 = time.monotonic()
size, t_first, t_last, t_change = 0, None, None, time.monotonic()
while time.monotonic() - t0 < flood_s + 10:
    try:
        s = os.path.getsize(logf)
    except OSError:
        s = 0
    now = time.monotonic()
    if s != size:
        if t_first is None:
            t_first = now
        size, t_last, t_change = s, now, now
    elif t_first is not None and now - t_change > 0.5:
        break
    time.sleep(0.01)
cpu1, rss1 = cpu_s(dpid), rss_kb(dpid)
if name == 'muster':
    # muster rotates at 10 MiB by default (PM2 does not rotate without
    # pm2-logrotate): the current file's size is not the total; the
    # daemon counts what its writer wrote, rotations included.
    out = run('describe', 'flood')[1].decode()
    size = int(re.search(r'log_bytes_written +(\d+)', out).group(1))
    fig['log_rotations'] = int(re.search(r'log_rotations +(\d+)', out).group(1))
mb = size / 1e6
secs = (t_last - t_first) if t_first and t_last > t_first else float('nan')
fig['log_mb'] = round(mb, 1)
fig['log_mb_s'] = round(mb / secs, 1)
fig['log_cpu_s_per_mb'] = round((cpu1 - cpu0) / mb, 5) if mb else None
fig['log_rss_before_kb'], fig['log_rss_after_kb'] = rss0, rss1
log(f'log flood ({flood_chunk}-byte writes): {mb:.1f} MB in {secs:.2f} s = '
    f'{fig["log_mb_s"]} MB/s (bare relay {fig["log_relay_mb_s"]} MB/s), '
    f'daemon {fig["log_cpu_s_per_mb"]} CPU s/MB, RSS {rss0} → {rss1} kB')
run('delete', 'all')
try:
    os.unlink(logf)
except OSError:
    pass

# 5. many apps (sleep 3600) from ecosystem files: 100, then 900 more
def start_many(first, count, label):
    eco = os.path.join(home, f'many{label}.json')
    json.dump({'apps': [{'name': f's{i}', 'script': '/bin/sleep',
                         'args': ['3600'], 'interpreter': 'none'}
                        for i in range(first, first + count)]},
              open(eco, 'w'))
    ms, _ = run('start', eco, timeout=240)
    fig[f'start_{count}_s'] = round(ms / 1e3, 2)
    t0 = time.monotonic()
    while True:
        n = sum(1 for a in jlist() if a['pid'])
        if n >= first + count or time.monotonic() - t0 > 120:
            break
        time.sleep(0.5)
    log(f'{count} more apps: start took {ms / 1e3:.2f} s, {n} running '
        f'after {time.monotonic() - t0:.1f} s more')
    time.sleep(1.0)
    total = first + count
    fig[f'rss_{total}_kb'] = rss_kb(dpid)
    fig[f'anon_{total}_kb'] = anon_kb(dpid)
    log(f'daemon {fig[f"rss_{total}_kb"]} kB with {n} apps')
    time_ls(str(total))
    return n


mid = min(100, many)
runs = max(3, runs // 3)
start_many(0, mid, str(mid))
if many > mid:
    fig['many'] = start_many(mid, many - mid, str(many))
ms, _ = run('delete', 'all', timeout=300)
fig[f'delete_{many}_s'] = round(ms / 1e3, 2)
print(json.dumps(fig), flush=True)
