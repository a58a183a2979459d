# After `cargo fuzz cmin <target>`: each file alone through libFuzzer's merge step (its edges;
# a merge of many files records only what each adds), then a greedy set cover: the fewest files
# that keep every edge of the merged corpus; seed-* and regress-* files always stay.
# python3 cover.py target/x86_64-unknown-linux-gnu/release/<target> corpus/<target> [cap]
import sys, os, subprocess, tempfile
binary, corpus = sys.argv[1], sys.argv[2]
cap = int(sys.argv[3]) if len(sys.argv) > 3 else 10**9
files = sorted(os.listdir(corpus))
feats = {}
for f in files:
    with tempfile.TemporaryDirectory() as out, tempfile.NamedTemporaryFile() as cf:
        one = os.path.join(out, 'in'); os.mkdir(one)
        os.link(os.path.join(corpus, f), os.path.join(one, f))
        o2 = os.path.join(out, 'out'); os.mkdir(o2)
        subprocess.run([binary, '-merge=1', '-use_counters=0', '-use_cmp=0', '-use_value_profile=0',
                        f'-merge_control_file={cf.name}', o2, one], capture_output=True, timeout=60)
        fs = set()
        for l in open(cf.name).read().split('\n'):
            p = l.split()
            if p and p[0] == 'FT':
                fs |= set(map(int, p[2:]))
        feats[f] = fs
universe = set().union(*feats.values())
left, chosen, gains = set(universe), [], []
while left and len(chosen) < cap:
    f = max(feats, key=lambda k: (len(feats[k] & left), -os.path.getsize(os.path.join(corpus, k))))
    g = feats[f] & left
    if not g: break
    chosen.append(f); gains.append(len(g)); left -= g
for f in files:
    if f not in chosen and not f.startswith(('seed-', 'regress-')):
        os.remove(os.path.join(corpus, f))
print(f'{corpus}: {len(universe)} edges, kept {len(chosen)} of {len(files)} covering {len(universe) - len(left)}; last gains {gains[-5:]}')
