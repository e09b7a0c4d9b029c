/* Shared by every enforcer BPF object: the maps (identical definitions in each object; the
 * loader makes all objects use one instance of each), path resolution, rule lookup and event
 * emission. Hot paths look up the cgroup first and return early for unscoped processes. */
#ifndef ARMORBENCH_COMMON_BPF_H
#define ARMORBENCH_COMMON_BPF_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "armorbench/enforcer/abi.h"

#define AB_MAX_RULES 4096
#define AB_WALK_DEPTH 32 /* path components resolved; deeper paths are marked truncated */
#define AB_WALK_BUF 512  /* power of two: offsets are masked with AB_WALK_BUF - 1 */
#define AB_NAME_MAX 255
#define AB_SIGKILL 9
#define AB_EPERM 1
#define AB_PROC_SUPER_MAGIC 0x9fa0
#define AB_FMODE_WRITE 0x2
#define AB_AF_INET 2
#define AB_AF_INET6 10
#define AB_SOCK_STREAM 1
#define AB_SOCK_DGRAM 2
#define AB_SOCK_RAW 3

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load: which backend this object implements. */
const volatile __u8 ab_backend = AB_BACKEND_TRACEPOINT;

struct ab_rule_map {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, AB_MAX_RULES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct ab_rule_key);
  __type(value, struct ab_rule);
};

/* The active rule set: slot 0 holds an LPM trie that user space replaces as a whole, so a
 * program always sees one complete generation of rules, never a half-updated set. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 1);
  __type(key, __u32);
  __array(values, struct ab_rule_map);
} ab_rules SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u64); /* cgroup v2 id */
  __type(value, struct ab_scope);
} ab_scopes SEC(".maps");

/* Threads of protected (memory-rule) cgroups, for the tracepoint backend, which sees only a
 * pid where bpf-lsm sees the task. Seeded by user space, kept by fork/exec/exit tracking. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);   /* thread id */
  __type(value, __u64); /* its cgroup id */
} ab_protected SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 22);
} ab_events SEC(".maps");

/* Protected objects by identity (abi.h struct ab_identity), filled by user space per scope. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, struct ab_identity_key);
  __type(value, struct ab_identity);
} ab_identities SEC(".maps");

/* Events not sent: [0] did not fit in the ring buffer, [1] over their rule's rate. The decisions
 * were enforced all the same; the counts are reported with every case. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} ab_dropped SEC(".maps");

/* Per rule and CPU, at most AB_RATE_LIMIT events a window (2^30 ns, about a second): a workload
 * that repeats a denied operation in a loop cannot flood the ring and crowd out other events. */
#define AB_RATE_LIMIT 2048
struct ab_rate {
  __u64 window;
  __u64 count;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32); /* rule id */
  __type(value, struct ab_rate);
} ab_rates SEC(".maps");

struct ab_scratch {
  struct ab_rule_key key;
  char walk[AB_WALK_BUF + AB_NAME_MAX + 1];
  char path[AB_PATH_MAX];   /* the resource */
  char source[AB_PATH_MAX]; /* the acting executable (or the exec's parent) */
  __u8 path_truncated;
  __u8 source_truncated;
  __u8 path_depth; /* components of the last resolved path */
  /* Unused at run time: makes `struct ab_rule` complete in the object's BTF, which libbpf needs
   * for the inner map template (a type only reached through the map-in-map stays a forward). */
  struct ab_rule btf_anchor;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ab_scratch);
} ab_scratch_map SEC(".maps");

static __always_inline struct ab_scratch* ab_get_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&ab_scratch_map, &zero);
}

/* Bit n set: some scoped cgroup sits at level n of the cgroup v2 hierarchy. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} ab_scope_levels SEC(".maps");

#define AB_MAX_CGROUP_LEVEL 32

/* The scope of the current process: its own cgroup's, or that of the nearest scoped ancestor, so
 * a process that moves itself (or is moved) into a cgroup below its container's stays scoped.
 * Unscoped processes pay one lookup plus one per level at which scopes exist. */
static __always_inline struct ab_scope* ab_current_scope(void) {
  __u64 cgroup = bpf_get_current_cgroup_id();
  struct ab_scope* scope = bpf_map_lookup_elem(&ab_scopes, &cgroup);
  if (scope) return scope;
  __u32 zero = 0;
  __u64* levels = bpf_map_lookup_elem(&ab_scope_levels, &zero);
  if (!levels) return 0;
  const __u64 mask = *levels;
  if (!mask) return 0;
  for (int level = 0; level < AB_MAX_CGROUP_LEVEL; level++) {
    if (!(mask & (1ULL << level))) continue;
    __u64 ancestor = bpf_get_current_ancestor_cgroup_id(level);
    if (!ancestor || ancestor == cgroup) break; /* at or below our own level: no ancestor left */
    scope = bpf_map_lookup_elem(&ab_scopes, &ancestor);
    if (scope) return scope;
  }
  return 0;
}

/* The cgroup an event is charged to: the container's scoped cgroup when there is one. */
static __always_inline __u64 ab_event_cgroup(void) {
  struct ab_scope* scope = ab_current_scope();
  return scope ? scope->cgroup_id : bpf_get_current_cgroup_id();
}

/* Whether the current process still sees the filesystem as its container does: the same mount
 * namespace and, within it, the namespace's root as its own root (no chroot). Paths resolved
 * from anywhere else (a private mount namespace with a binary bound over an allowed one, a
 * chroot that makes /run/secrets/token read as /secrets/token) are not the names the rules
 * speak of; decisions on them fail closed. */
static __always_inline int ab_foreign_view(const struct ab_scope* scope) {
  if (!scope || !scope->mnt_ns) return 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct mnt_namespace* ns = BPF_CORE_READ(task, nsproxy, mnt_ns);
  const __u32 inum = BPF_CORE_READ(ns, ns.inum);
  /* A runtime joining the container (runc exec) enters the cgroup before the namespaces. */
  if (inum == scope->runtime_mnt_ns) return 0;
  if (inum != scope->mnt_ns) return 1;
  if (scope->root_ino) {
    struct dentry* root = BPF_CORE_READ(task, fs, root.dentry);
    if (BPF_CORE_READ(root, d_inode, i_ino) != scope->root_ino ||
        BPF_CORE_READ(root, d_sb, s_dev) != scope->root_dev)
      return 1;
  }
  return 0;
}

static __always_inline void* ab_active_rules(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&ab_rules, &zero);
}

struct ab_walk {
  __u64 dentry;      /* struct dentry * being named */
  __u64 vfsmnt;      /* struct vfsmount * it is in */
  __u64 mnt;         /* the struct mount around vfsmnt */
  __u64 mnt_root;    /* vfsmnt->mnt_root, read once per mount rather than once per component */
  __u64 root_dentry; /* the task's root: where the path starts */
  __u64 root_mnt;
  __u32 off; /* next byte to write is walk[off - 1]; the path grows leftwards */
  __u8 truncated;
  __u8 depth; /* components written */
};

/* struct dentry's d_parent and d_name (a qstr: hash and length in one word, then the name
 * pointer) lie next to each other in every kernel since 2.6: one read instead of two per
 * component, which is the walk's main cost on every file open of a scoped process. */
struct ab_dentry_head {
  __u64 parent;
  __u64 hash_len; /* len in the upper 32 bits on little-endian */
  __u64 name;
};

/* One path component per call (bpf_loop callback): verified once, however deep the path, which
 * keeps the verifier's work small on every kernel that has bpf_loop (5.17+). */
static long ab_walk_step(__u32 index, void* ctx) {
  struct ab_walk* w = ctx;
  struct ab_scratch* s = ab_get_scratch();
  if (!s) return 1;
  if (w->dentry == w->root_dentry && w->vfsmnt == w->root_mnt) return 1;
  if (w->dentry == w->mnt_root) {
    struct mount* mnt = (struct mount*)w->mnt;
    struct mount* parent = BPF_CORE_READ(mnt, mnt_parent);
    if (parent == mnt) return 1; /* the root mount of this namespace */
    w->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = (__u64)parent;
    struct vfsmount* vfsmnt =
        (struct vfsmount*)((char*)parent + bpf_core_field_offset(struct mount, mnt));
    w->vfsmnt = (__u64)vfsmnt;
    w->mnt_root = (__u64)BPF_CORE_READ(vfsmnt, mnt_root);
    return 0;
  }
  struct ab_dentry_head head = {};
  bpf_probe_read_kernel(&head, sizeof head,
                        (char*)w->dentry + bpf_core_field_offset(struct dentry, d_parent));
  if (head.parent == w->dentry) return 1;
  __u32 len = (__u32)(head.hash_len >> 32) & AB_NAME_MAX;
  if (len + 1 > w->off) {
    w->truncated = 1;
    return 1;
  }
  __u32 off = w->off - len;
  bpf_probe_read_kernel(&s->walk[off & (AB_WALK_BUF - 1)], len, (const void*)head.name);
  off -= 1;
  s->walk[off & (AB_WALK_BUF - 1)] = '/';
  w->off = off;
  w->depth += 1;
  w->dentry = head.parent;
  if (index == AB_WALK_DEPTH - 1) w->truncated = 1;
  return 0;
}

/* Resolves (dentry, vfsmount) to a path relative to the current task's root (the container's
 * view, as KubeArmor reports it), walking d_parent and crossing mounts, into `out`.
 * Returns the length (without NUL); *truncated is set when the path did not fit, and
 * s->path_depth counts its components. */
static __always_inline int ab_resolve_path(struct ab_scratch* s, struct dentry* dentry,
                                           struct vfsmount* vfsmnt, char* out, __u8* truncated) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct ab_walk w = {
      .dentry = (__u64)dentry,
      .vfsmnt = (__u64)vfsmnt,
      .mnt = (__u64)container_of(vfsmnt, struct mount, mnt),
      .mnt_root = (__u64)BPF_CORE_READ(vfsmnt, mnt_root),
      .root_dentry = (__u64)BPF_CORE_READ(task, fs, root.dentry),
      .root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt),
      .off = AB_WALK_BUF - 1,
  };
  s->walk[AB_WALK_BUF - 1] = '\0';
  bpf_loop(AB_WALK_DEPTH, ab_walk_step, &w, 0);
  __u32 off = w.off;
  if (off == AB_WALK_BUF - 1) { /* the root itself */
    off -= 1;
    s->walk[off & (AB_WALK_BUF - 1)] = '/';
  }
  __u32 len = AB_WALK_BUF - 1 - off;
  *truncated = w.truncated || len >= AB_PATH_MAX;
  s->path_depth = w.depth;
  bpf_probe_read_kernel_str(out, AB_PATH_MAX, &s->walk[off & (AB_WALK_BUF - 1)]);
  return len < AB_PATH_MAX ? (int)len : AB_PATH_MAX - 1;
}

static __always_inline int ab_resolve_file(struct ab_scratch* s, struct file* file, char* out,
                                           __u8* truncated) {
  struct dentry* dentry = BPF_CORE_READ(file, f_path.dentry);
  struct vfsmount* mnt = BPF_CORE_READ(file, f_path.mnt);
  return ab_resolve_path(s, dentry, mnt, out, truncated);
}

/* The executable of `task` (its mm's exe_file); "" for kernel threads. */
static __always_inline int ab_resolve_exe(struct ab_scratch* s, struct task_struct* task, char* out,
                                          __u8* truncated) {
  struct file* exe = BPF_CORE_READ(task, mm, exe_file);
  if (!exe) {
    out[0] = '\0';
    *truncated = 0;
    return 0;
  }
  return ab_resolve_file(s, exe, out, truncated);
}

/* Longest-prefix lookup of `path` among rules of `kind`; the default posture of the kind is its
 * kind-only entry, so "no rule" comes back as the posture when one is set. */
static __always_inline struct ab_rule* ab_lookup_path(void* rules, struct ab_scratch* s, __u8 kind,
                                                      __u32 aux, const char* path) {
  s->key.prefixlen = AB_KEY_HEADER_BITS + AB_PATH_MAX * 8;
  s->key.kind = kind;
  s->key.reserved = 0;
  s->key.port = 0;
  s->key.aux = aux;
  bpf_probe_read_kernel_str(s->key.data, AB_PATH_MAX, path);
  return bpf_map_lookup_elem(rules, &s->key);
}

static __always_inline int ab_action_strength(__u8 action) {
  return action == AB_ACTION_BLOCK ? 3 : action == AB_ACTION_AUDIT ? 2 : action == AB_ACTION_ALLOW;
}

struct ab_decision {
  __u8 action;
  __u8 flags; /* AB_EVENT_* */
  __u32 rule_id;
};

/* Applies a matched rule: directory depth, fromSource, read-only. `source` is only resolved by
 * the caller when the rule needs it (AB_RULE_HAS_SOURCES); `path_depth` is the number of
 * components of the path the rule matched. */
static __always_inline struct ab_decision ab_apply_rule(void* rules, struct ab_scratch* s,
                                                        struct ab_rule* rule, __u8 path_depth,
                                                        const char* source, int is_write) {
  struct ab_decision d = {AB_ACTION_NONE, 0, 0};
  if (!rule) return d;
  /* Direct children only: the path is one component deeper than the directory. A deeper path
   * falls back to the nearest recursive directory rule above it (or the posture). */
  if (rule->flags & AB_RULE_DIR && !(rule->flags & AB_RULE_RECURSIVE) &&
      path_depth != rule->dir_depth + 1) {
    if (!(rule->flags & AB_RULE_DEPTH_FALLBACK)) return d;
    d.action = rule->fallback_action;
    d.rule_id = rule->fallback_rule_id;
    if (rule->flags & AB_RULE_FALLBACK_READ_ONLY && !is_write) d.action = AB_ACTION_ALLOW;
    if (d.rule_id == 0 && d.action != AB_ACTION_NONE) d.flags |= AB_EVENT_POSTURE;
    return d;
  }
  __u8 action = rule->action;
  __u32 rule_id = rule->rule_id;
  if (rule->flags & AB_RULE_HAS_SOURCES) {
    /* The source entries (keyed by this entry's id) carry the decision; without a matching
     * source the next less specific rule applies, which the compiler stored as the fallback. */
    const __u8 flags = rule->flags;
    const __u8 fallback_action = rule->fallback_action;
    const __u32 fallback_rule_id = rule->fallback_rule_id;
    struct ab_rule* match = ab_lookup_path(rules, s, AB_KIND_SOURCE, rule->rule_id, source);
    if (match) {
      action = match->action;
      rule_id = match->rule_id;
    } else {
      action = fallback_action;
      rule_id = fallback_rule_id;
    }
    if (flags & AB_RULE_READ_ONLY && !is_write) action = AB_ACTION_ALLOW;
    d.action = action;
    d.rule_id = rule_id;
    if (rule_id == 0) d.flags |= AB_EVENT_POSTURE;
    return d;
  }
  if (rule->flags & AB_RULE_READ_ONLY && !is_write) action = AB_ACTION_ALLOW;
  d.action = action;
  d.rule_id = rule_id;
  if (rule_id == 0) d.flags |= AB_EVENT_POSTURE;
  return d;
}

/* The protected name of the object `dentry` is, if it had one when its container was scoped. */
static __always_inline struct ab_identity* ab_identity_of(struct dentry* dentry) {
  if (!dentry) return 0; /* a name judged before the call (tracepoint backend) */
  struct ab_identity_key key = {};
  struct inode* inode = BPF_CORE_READ(dentry, d_inode);
  key.ino = BPF_CORE_READ(inode, i_ino);
  key.dev = BPF_CORE_READ(dentry, d_sb, s_dev);
  struct ab_identity* identity = bpf_map_lookup_elem(&ab_identities, &key);
  if (identity && identity->flags & AB_IDENTITY_GENERATION &&
      identity->generation != BPF_CORE_READ(inode, i_generation))
    return 0; /* the inode number now belongs to another object */
  return identity;
}

/* A path decision, then the same decision on the object's protected name (a renamed or hard-
 * linked protected file is still that file): the stronger one stands, flagged when it was the
 * name's. `path` and `depth` describe the path as resolved; `source` is resolved by the caller
 * when a rule has sources. */
static __always_inline struct ab_decision ab_path_decision_here(void* rules, struct ab_scratch* s,
                                                                __u8 kind, struct dentry* dentry,
                                                                __u8 depth, int is_write) {
  struct ab_rule* rule = ab_lookup_path(rules, s, kind, 0, s->path);
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  if (rule && rule->flags & AB_RULE_HAS_SOURCES)
    ab_resolve_exe(s, task, s->source, &s->source_truncated);
  struct ab_decision d = ab_apply_rule(rules, s, rule, depth, s->source, is_write);
  struct ab_identity* identity = ab_identity_of(dentry);
  if (!identity) return d;
  struct ab_rule* named = ab_lookup_path(rules, s, kind, 0, identity->path);
  if (named && named->flags & AB_RULE_HAS_SOURCES)
    ab_resolve_exe(s, task, s->source, &s->source_truncated);
  struct ab_decision by_name = ab_apply_rule(rules, s, named, identity->depth, s->source, is_write);
  if (ab_action_strength(by_name.action) > ab_action_strength(d.action)) {
    by_name.flags |= AB_EVENT_IDENTITY;
    return by_name;
  }
  return d;
}

static __always_inline struct ab_rule* ab_generation_entry(void* rules, struct ab_scratch* s) {
  s->key.prefixlen = AB_KEY_HEADER_BITS;
  s->key.kind = AB_KIND_GENERATION;
  s->key.reserved = 0;
  s->key.port = 0;
  s->key.aux = 0;
  return bpf_map_lookup_elem(rules, &s->key);
}

static __always_inline __u32 ab_generation(void* rules, struct ab_scratch* s) {
  struct ab_rule* g = ab_generation_entry(rules, s);
  return g ? g->rule_id : 0;
}

/* A path decision that cannot rest on the path (truncated, or resolved outside the container's
 * view) fails closed: the rule set's fail-closed action (block, or audit in audit mode) under
 * its own rule id, unless the rules already block it. `flag` says why. */
static __always_inline void ab_fail_closed(void* rules, struct ab_scratch* s, struct ab_decision* d,
                                           __u8 flag) {
  d->flags |= flag;
  if (d->action == AB_ACTION_BLOCK) return;
  struct ab_rule* g = ab_generation_entry(rules, s);
  if (!g || g->fallback_action == AB_ACTION_NONE) return;
  if (ab_action_strength(g->fallback_action) <= ab_action_strength(d->action)) return;
  d->action = g->fallback_action;
  d->rule_id = g->fallback_rule_id;
  d->flags &= ~AB_EVENT_POSTURE;
}

/* The path decision as a global function: the verifier checks it once, and its callers see one
 * unknown result instead of every combination of rule, source and identity it can come to (which
 * took a program with two path decisions past the verifier's budget on Linux 6.1). Arguments are
 * plain words (a map cannot be passed), so it looks the active rule set up itself: `generation` is
 * the one its caller holds, and when the set was swapped in between, it decides nothing and says
 * AB_VERDICT_STALE. The result is packed as action | flags << 8 | rule_id << 32. */
#define AB_VERDICT_STALE (1ULL << 16)

__noinline __u64 ab_path_verdict(__u64 dentry_word, __u32 kind, __u32 depth, __u32 is_write,
                                 __u32 generation) {
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules || ab_generation(rules, s) != generation) return AB_VERDICT_STALE;
  struct ab_decision d =
      ab_path_decision_here(rules, s, kind, (struct dentry*)dentry_word, depth, is_write);
  return (__u64)d.action | ((__u64)d.flags << 8) | ((__u64)d.rule_id << 32);
}

#define AB_VERDICT_TRIES 3

/* `dentry` must be a plain word here (read through BPF_CORE_READ, or AB_WORD in lsm hooks).
 * `*rules` is the set the caller decides under, and stamps its event with (its generation) and
 * fails closed by: when a swap came between the caller's lookup and the verdict's, the caller
 * moves to the new set and the decision is made again, so that decision, fail-closed action and
 * generation always come from one set (never a rule of one generation stamped with another's).
 * Swaps are milliseconds apart; should every try still meet a new one, the decision fails
 * closed. */
static __always_inline struct ab_decision ab_path_decision(void** rules, struct ab_scratch* s,
                                                           __u8 kind, struct dentry* dentry,
                                                           __u8 depth, int is_write) {
  struct ab_decision d = {AB_ACTION_NONE, 0, 0};
  for (int i = 0; i < AB_VERDICT_TRIES; i++) {
    const __u64 packed = ab_path_verdict((__u64)dentry, kind, depth, is_write != 0,
                                         ab_generation(*rules, s));
    if (!(packed & AB_VERDICT_STALE)) {
      d.action = (__u8)packed;
      d.flags = (__u8)(packed >> 8);
      d.rule_id = (__u32)(packed >> 32);
      return d;
    }
    void* now = ab_active_rules();
    if (!now) return d;
    *rules = now;
  }
  ab_fail_closed(*rules, s, &d, 0);
  return d;
}

/* Lookup of a header-only key (protocol, capability): exact header, or the kind's default. */
static __always_inline struct ab_rule* ab_lookup_header(void* rules, struct ab_scratch* s,
                                                        __u8 kind, __u16 port, __u32 aux) {
  s->key.prefixlen = AB_KEY_HEADER_BITS;
  s->key.kind = kind;
  s->key.reserved = 0;
  s->key.port = port;
  s->key.aux = aux;
  return bpf_map_lookup_elem(rules, &s->key);
}

static __always_inline struct ab_decision ab_rule_decision(struct ab_rule* rule) {
  struct ab_decision d = {AB_ACTION_NONE, 0, 0};
  if (!rule) return d;
  d.action = rule->action;
  d.rule_id = rule->rule_id;
  if (rule->rule_id == 0) d.flags |= AB_EVENT_POSTURE;
  return d;
}

#define AB_IPPROTO_UDPLITE 136
#define AB_IPPROTO_MPTCP 262

/* The protocol class of a socket (abi.h's enum ab_protocol): what the socket is, not the number
 * it was asked for, so MPTCP counts as tcp and UDP-Lite as udp; a raw ICMP socket is raw (its
 * icmp class is checked too, see ab_protocol_subclass); anything else is OTHER. */
static __always_inline __u32 ab_protocol_class(__u32 type, __u32 protocol) {
  if (type == AB_SOCK_RAW) return AB_PROTO_RAW;
  if (protocol == AB_PROTO_ICMP || protocol == AB_PROTO_ICMPV6) return protocol;
  if (type == AB_SOCK_STREAM &&
      (protocol == 0 || protocol == AB_PROTO_TCP || protocol == AB_IPPROTO_MPTCP))
    return AB_PROTO_TCP;
  if (type == AB_SOCK_DGRAM &&
      (protocol == 0 || protocol == AB_PROTO_UDP || protocol == AB_IPPROTO_UDPLITE))
    return AB_PROTO_UDP;
  return AB_PROTO_OTHER;
}

/* A second class a socket also belongs to (raw ICMP is raw and icmp), or OTHER. */
static __always_inline __u32 ab_protocol_subclass(__u32 type, __u32 protocol) {
  if (type == AB_SOCK_RAW && (protocol == AB_PROTO_ICMP || protocol == AB_PROTO_ICMPV6))
    return protocol;
  return AB_PROTO_OTHER;
}

/* Socket creation: the decision for the socket's class and, for a raw ICMP socket, the stronger
 * of it and the icmp class's; *class_out is the class the decision is reported under. */
static __always_inline struct ab_decision ab_socket_decision(void* rules, struct ab_scratch* s,
                                                             __u32 type, __u32 protocol,
                                                             __u32* class_out) {
  const __u32 class = ab_protocol_class(type, protocol);
  const __u32 subclass = ab_protocol_subclass(type, protocol);
  struct ab_decision d = ab_rule_decision(ab_lookup_header(rules, s, AB_KIND_NET_PROTO, 0, class));
  *class_out = class;
  if (subclass != AB_PROTO_OTHER) {
    struct ab_decision sub =
        ab_rule_decision(ab_lookup_header(rules, s, AB_KIND_NET_PROTO, 0, subclass));
    if (ab_action_strength(sub.action) > ab_action_strength(d.action)) {
      d = sub;
      *class_out = subclass;
    }
  }
  return d;
}

/* Address rules: among the rules matching (port, protocol), (any port, protocol), (port, any
 * protocol) and (any, any), the one with the most specific CIDR decides; on equal CIDRs a port
 * beats any port and a protocol any protocol. The posture when no rule matches. `address` is
 * IPv6 or v4-mapped (::ffff:a.b.c.d): one trie serves both families. */
static __always_inline struct ab_decision ab_address_decision(void* rules, struct ab_scratch* s,
                                                              __u16 port, __u32 protocol,
                                                              const __u8* address) {
  struct ab_decision posture = {AB_ACTION_NONE, 0, 0};
  struct ab_decision best = {AB_ACTION_NONE, 0, 0};
  int best_bits = -1;
  for (int i = 0; i < 4; i++) {
    s->key.prefixlen = AB_KEY_HEADER_BITS + 128;
    s->key.kind = AB_KIND_NET_ADDR;
    s->key.reserved = 0;
    s->key.port = (i & 1) ? 0 : port;
    s->key.aux = (i & 2) ? 0 : protocol;
    __builtin_memcpy(s->key.data, address, 16);
    struct ab_rule* rule = bpf_map_lookup_elem(rules, &s->key);
    if (!rule) continue;
    if (rule->rule_id == 0) {
      posture = ab_rule_decision(rule);
      continue;
    }
    if ((int)rule->dir_depth > best_bits) { /* strictly more specific: earlier i wins ties */
      best_bits = rule->dir_depth;
      best = ab_rule_decision(rule);
    }
  }
  return best_bits >= 0 ? best : posture;
}

static __always_inline void ab_v4_mapped(__u8* address, __u32 ip4_network_order) {
  __builtin_memset(address, 0, 10);
  address[10] = 0xff;
  address[11] = 0xff;
  __builtin_memcpy(&address[12], &ip4_network_order, 4);
}

static __always_inline void ab_count_drop(__u32 why) {
  __u64* count = bpf_map_lookup_elem(&ab_dropped, &why);
  if (count) *count += 1;
}

/* Whether this rule has used up its events for the current window on this CPU. */
static __always_inline int ab_over_rate(__u32 rule_id) {
  const __u64 window = bpf_ktime_get_ns() >> 30;
  struct ab_rate* rate = bpf_map_lookup_elem(&ab_rates, &rule_id);
  if (!rate) {
    struct ab_rate fresh = {window, 1};
    bpf_map_update_elem(&ab_rates, &rule_id, &fresh, BPF_ANY);
    return 0;
  }
  if (rate->window != window) {
    rate->window = window;
    rate->count = 0;
  }
  rate->count += 1;
  return rate->count > AB_RATE_LIMIT;
}

/* Reserves and fills the common part of an event; the caller adds the specifics and submits. */
static __always_inline struct ab_event* ab_new_event(void* rules, struct ab_scratch* s,
                                                     __u16 operation, struct ab_decision d,
                                                     __u8 enforcement) {
  if (ab_over_rate(d.rule_id)) {
    ab_count_drop(1);
    return 0;
  }
  struct ab_event* e = bpf_ringbuf_reserve(&ab_events, sizeof(*e), 0);
  if (!e) {
    ab_count_drop(0);
    return 0;
  }
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  e->timestamp_ns = bpf_ktime_get_boot_ns();
  e->cgroup_id = ab_event_cgroup();
  e->target_cgroup_id = 0;
  e->pid = (__u32)pid_tgid;
  e->tgid = pid_tgid >> 32;
  e->ppid = BPF_CORE_READ(task, real_parent, tgid);
  e->uid = (__u32)bpf_get_current_uid_gid();
  e->rule_id = d.rule_id;
  e->generation = rules ? ab_generation(rules, s) : 0;
  e->target_pid = 0;
  e->aux = 0;
  e->operation = operation;
  e->port = 0;
  e->action = d.action;
  e->backend = ab_backend;
  e->enforcement = enforcement;
  e->flags = d.flags;
  e->family = 0;
  __builtin_memset(e->reserved, 0, sizeof(e->reserved));
  __builtin_memset(e->address, 0, sizeof(e->address));
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  e->exe[0] = '\0';
  e->resource[0] = '\0';
  return e;
}

/* Memory rules for the current process reading a protected process's memory from outside its
 * cgroup: the rule (or an allowed reader) decides by the reader's executable, resolved into
 * s->source. Block kills the reader (tracepoint backend); *enforcement says what was done. */
static __always_inline struct ab_decision ab_memory_decision(void* rules, struct ab_scratch* s,
                                                             __u8* enforcement) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  ab_resolve_exe(s, task, s->source, &s->source_truncated);
  struct ab_rule* rule = ab_lookup_path(rules, s, AB_KIND_MEMORY, 0, s->source);
  struct ab_decision d = ab_apply_rule(rules, s, rule, 0, s->source, 0);
  *enforcement = AB_ENFORCE_NONE;
  if (d.action == AB_ACTION_BLOCK) {
    bpf_send_signal(AB_SIGKILL);
    *enforcement = AB_ENFORCE_KILL;
  }
  return d;
}

/* Whether a decision is reported: audit and block always, allow never (KubeArmor's default). */
static __always_inline int ab_reported(__u8 action) {
  return action == AB_ACTION_AUDIT || action == AB_ACTION_BLOCK;
}

/* A change to a file-system object (unlink, rmdir, rename, link, truncate, chmod, chown) is a
 * write to it: decided on its path as resolved into s->path (depth s->path_depth) and, through
 * `dentry` when there is one, on its protected name; failing closed like an open. */
static __always_inline struct ab_decision ab_change_decision(void** rules, struct ab_scratch* s,
                                                             const struct ab_scope* scope,
                                                             struct dentry* dentry) {
  const __u8 depth = s->path_depth;
  struct ab_decision d = ab_path_decision(rules, s, AB_KIND_FILE, dentry, depth, 1);
  if (s->path_truncated) ab_fail_closed(*rules, s, &d, AB_EVENT_PATH_TRUNCATED);
  if (ab_foreign_view(scope)) ab_fail_closed(*rules, s, &d, AB_EVENT_FOREIGN_VIEW);
  d.flags |= AB_EVENT_WRITE;
  return d;
}

static __always_inline void ab_report_change(void* rules, struct ab_scratch* s, __u16 operation,
                                             __u32 change, struct ab_decision d, __u8 enforcement) {
  struct ab_event* e = ab_new_event(rules, s, operation, d, enforcement);
  if (!e) return;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  ab_resolve_exe(s, task, e->exe, &s->source_truncated);
  bpf_probe_read_kernel_str(e->resource, AB_PATH_MAX, s->path);
  e->aux = change;
  bpf_ringbuf_submit(e, 0);
}

static __always_inline void ab_report_network(void* rules, struct ab_scratch* s,
                                              struct ab_decision d, __u16 operation, __u32 family,
                                              __u32 protocol, __u16 port, const __u8* address) {
  /* Network denials are refusals (-EPERM) in both backends. */
  struct ab_event* e = ab_new_event(
      rules, s, operation, d, d.action == AB_ACTION_BLOCK ? AB_ENFORCE_EPERM : AB_ENFORCE_NONE);
  if (!e) return;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  ab_resolve_exe(s, task, e->exe, &s->source_truncated);
  e->family = family;
  e->aux = protocol;
  e->port = port;
  if (address) __builtin_memcpy(e->address, address, 16);
  bpf_ringbuf_submit(e, 0);
}

#endif /* ARMORBENCH_COMMON_BPF_H */
