#!/usr/bin/env python3
"""No file circle in src/ (issue 14), and no arrow between parts that ARCHITECTURE.md does not
draw (issue 25): each .rs file's references to other files of the crate (`use` items,
`crate::`/`super::`/`self::` paths, paths through a sibling module) form a graph that must
have no cycle, and each reference from one part (a folder, or a top-level file) to another
must be one of ARROWS below. A reading of the source text, not of rustc's name resolution: it
resolves a path to the longest module prefix that is a file. Prints each circle and each
arrow not allowed, exits 1 when there is one; `-v` prints the whole graph."""
import os,re,sys
files={}
for d,_,fs in os.walk('src'):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(d,f); mod=p[4:-3].replace('/','::'); mod=re.sub(r'::mod$','',mod)
            files[mod]=p
def expand(prefix, body):
    # body of {...}; returns list of paths
    out=[];depth=0;cur=''
    items=[]
    for ch in body:
        if ch=='{':depth+=1
        if ch=='}':depth-=1
        if ch==',' and depth==0: items.append(cur);cur=''
        else: cur+=ch
    items.append(cur)
    for it in items:
        it=it.strip()
        if not it: continue
        m=re.match(r'([\w:]*?)(?:::)?\{(.*)\}$',it,re.S)
        if m: out+=expand(prefix+[x for x in m.group(1).split('::') if x], m.group(2))
        else: out.append(prefix+[x for x in it.split(' ')[0].split('::') if x])
    return out
def refs(mod,p):
    t=open(p).read().split('#[cfg(test)]')[0]
    t=re.sub(r'//[^\n]*','',t)
    t=re.sub(r'r#"(?:.|\n)*?"#','""',t)
    t=re.sub(r'"(?:\\.|[^"\\])*"','""',t)
    t=re.sub(r"'(?:\\.|[^'\\])'","''",t)
    is_mod=p.endswith('mod.rs') or mod in ('lib','main')
    here=mod.split('::') if is_mod else mod.split('::')[:-1]
    if mod in('lib','main'): here=[]
    paths=[]
    for m in re.finditer(r'\buse\s+([^;]+);',t,re.S):
        u=m.group(1).strip()
        mm=re.match(r'([\w:]*?)(?:::)?\{(.*)\}$',u,re.S)
        if mm: paths+=expand([x for x in mm.group(1).split('::') if x], mm.group(2))
        else: paths.append(u.split(' ')[0].split('::'))
    for m in re.finditer(r'(?<![\w:])([a-z_]+)::([\w:]+)',t):
        if m.group(1) not in ('crate','super','self') and '::'.join(here+[m.group(1)]) in files:
            paths.append([m.group(1)]+m.group(2).split('::'))
    for m in re.finditer(r'\b(crate|super)::([\w:]+)',t):
        paths.append([m.group(1)]+m.group(2).split('::'))
    res=set()
    for ps in paths:
        if not ps: continue
        if ps[0]=='crate': abs_=ps[1:]
        elif ps[0]=='super': abs_=here[:-1]+ps[1:] if False else (here[:-1] if is_mod else here)+ps[1:] if not is_mod else here[:-1]+ps[1:]
        elif ps[0]=='self': abs_=here+ps[1:]
        else:
            if ps[0] in ('std','serde','tokio','tracing','gix','kube','http','similar','ring','jsonwebtoken','hyper_util','tower','base64','granit_parser','serde_saphyr','webpki_roots','tempfile','backon','fastrand','envy','strsim','thiserror','signature','hyper_rustls','hyper_timeout','tower_http','k8s_openapi','reqwest','rustls','url','serde_json','base64','clap'): continue
            if '::'.join(here+ps[:1]) not in files: continue
            abs_=here+ps
        for k in range(len(abs_),0,-1):
            c='::'.join(abs_[:k])
            if c in files:
                if c!=mod: res.add(c)
                break
    return res
g={m:refs(m,p) for m,p in files.items()}
idx={};low={};st=[];on=set();sccs=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in g[v]:
        if w not in idx: sc(w); low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: sccs.append(sorted(comp))
for v in g:
    if v not in idx: sc(v)
for s in sccs: print('file circle:', ' <-> '.join(s))

# The parts and the arrows between them, as ARCHITECTURE.md draws them: a part may import the
# parts listed after it, and nothing else. The leaves (retry, text, limits) import nothing.
LEAVES = {'retry', 'text', 'limits'}
ARROWS = {
    'main': {'config', 'logging', 'trust', 'run', 'serve', 'error'},
    'lib': {'error', 'run'},
    'serve': {'config', 'run', 'plan', 'kube', 'trust'} | LEAVES,
    'logging': {'config', 'run', 'trust'},
    'error': {'config', 'git', 'host', 'kube', 'plan', 'trust'},
    'config': {'plan', 'host', 'kube', 'trust'},
    'run': {'config', 'plan', 'git', 'host', 'kube', 'trust'} | LEAVES,
    'git': {'plan', 'trust'} | LEAVES,
    'host': {'plan', 'trust'} | LEAVES,
    'kube': {'plan', 'trust'} | LEAVES,
    'trust': set(LEAVES),
    'plan': {'limits'},
    'retry': set(), 'text': set(), 'limits': set(),
}
wrong = []
for a in sorted(g):
    pa = a.split('::')[0]
    for b in sorted(g[a]):
        pb = b.split('::')[0]
        if pa != pb and pb not in ARROWS.get(pa, set()):
            wrong.append(f'{a} -> {b}')
for w in wrong:
    print('arrow not in ARCHITECTURE.md:', w)
if '-v' in sys.argv:
    for k in sorted(g): print(k,'->',sorted(g[k]))

sys.exit(1 if sccs or wrong else 0)
