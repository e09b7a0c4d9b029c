/* The interface between the enforcer's BPF programs and its C++ side, defined once for both:
 * the rule-map key and value, scope flags, and the event record written to the ring buffer.
 * Plain C with fixed-size fields; included by BPF C (with vmlinux.h) and by C++ (with
 * <linux/types.h>). */
#ifndef ARMORBENCH_ENFORCER_ABI_H
#define ARMORBENCH_ENFORCER_ABI_H

#ifndef __VMLINUX_H__ /* BPF C gets the __u* types from vmlinux.h */
#include <linux/types.h>
#endif

#define AB_PATH_MAX 248 /* path bytes in a rule key: 256 (LPM_DATA_SIZE_MAX) minus the header */
#define AB_COMM_LEN 16
#define AB_KEY_HEADER_BITS 64 /* kind, reserved, port, aux */
#define AB_KEY_KIND_BITS 8    /* a prefix of only the kind: the default of that kind */

/* Kinds of rule-map entries (first byte of the LPM key data). */
enum ab_kind {
  AB_KIND_EXEC = 1,       /* data: executable path */
  AB_KIND_FILE = 2,       /* data: file path */
  AB_KIND_SOURCE = 3,     /* aux: id of the gated path entry; data: source executable path */
  AB_KIND_NET_ADDR = 4,   /* port, aux: protocol (0 = any); data: IPv6 or v4-mapped address */
  AB_KIND_NET_PROTO = 5,  /* aux: protocol class (socket creation) */
  AB_KIND_MEMORY = 7,     /* data: executable allowed to read protected memory */
  AB_KIND_CAPABILITY = 8, /* aux: capability number */
  AB_KIND_GENERATION = 9, /* value.rule_id: the rule set's generation */
};

/* Every kind's entry with prefixlen AB_KEY_KIND_BITS matches any lookup of that kind: it holds
 * the default posture (rule_id 0), or the rule that covers everything (network "all", memory). */

/* Protocol classes of socket-creation rules (KubeArmor's matchProtocols), by what a socket is:
 * tcp = any stream socket of TCP or MPTCP, udp = a datagram socket of UDP or UDP-Lite, icmp and
 * icmpv6 by protocol (ping sockets), raw = any SOCK_RAW. Every other protocol (SCTP, ...) is
 * class OTHER, which only the kind's default (the posture, or an "all" rule) decides. */
enum ab_protocol {
  AB_PROTO_OTHER = 0,
  AB_PROTO_ICMP = 1,
  AB_PROTO_TCP = 6,
  AB_PROTO_UDP = 17,
  AB_PROTO_ICMPV6 = 58,
  AB_PROTO_RAW = 255, /* SOCK_RAW of any protocol */
};

enum ab_action {
  AB_ACTION_NONE = 0, /* no rule and no posture: allowed, not reported */
  AB_ACTION_ALLOW = 1,
  AB_ACTION_AUDIT = 2,
  AB_ACTION_BLOCK = 3,
  AB_ACTION_OBSERVE = 4, /* exec watch: not a decision, an observation for objectives */
};

/* Rule flags. */
#define AB_RULE_DIR 0x01         /* matches every path below the directory */
#define AB_RULE_RECURSIVE 0x02   /* with DIR: at any depth, else direct children only */
#define AB_RULE_READ_ONLY 0x04   /* reads are allowed, writes take the action */
#define AB_RULE_HAS_SOURCES 0x08 /* fromSource: SOURCE entries decide, else the fallback */
#define AB_RULE_DEPTH_FALLBACK 0x10 /* non-recursive DIR: a deeper path takes the fallback (the
                                     * nearest recursive directory rule above, or the posture) */
#define AB_RULE_FALLBACK_READ_ONLY 0x20 /* the fallback rule is read-only */

struct ab_rule_key {
  __u32 prefixlen; /* bits of data that must match; LPM_TRIE semantics */
  __u8 kind;       /* enum ab_kind */
  __u8 reserved;
  __u16 port; /* NET_ADDR: destination port in host order, 0 = any */
  __u32 aux;  /* see enum ab_kind */
  char data[AB_PATH_MAX];
};

struct ab_rule {
  __u32 rule_id;        /* index into the user-space rule table (policy, message, severity) */
  __u8 action;          /* enum ab_action when the rule applies */
  __u8 flags;           /* AB_RULE_* */
  __u8 fallback_action; /* when HAS_SOURCES and the source does not match */
  __u8 dir_depth;       /* DIR rules: components of the directory (for non-recursive checks);
                         * NET_ADDR rules: prefix bits of the CIDR over 128 (its specificity) */
  __u32 fallback_rule_id;
};

/* The identity of a filesystem object a path rule names, taken when a container is scoped: the
 * object keeps it under any other name (renamed, or hard-linked), so the decision can be made
 * on the name the rules know it by. Key: inode number and the kernel's dev_t of its superblock. */
struct ab_identity_key {
  __u64 ino;
  __u32 dev;
  __u32 reserved;
};

struct ab_identity {
  char path[AB_PATH_MAX]; /* its name in the container's view when it was protected */
  __u8 depth;             /* components of that name (for non-recursive directory rules) */
  __u8 flags;             /* AB_IDENTITY_* */
  __u16 reserved;
  __u32 generation;       /* the inode's i_generation, when AB_IDENTITY_GENERATION */
};

/* The inode's generation is known (FS_IOC_GETVERSION: ext4, xfs, btrfs...): an inode number the
 * filesystem reuses for a new object after the protected one was removed is not mistaken for it.
 * Without it (tmpfs), inode numbers are not reused until a 32-bit counter wraps. */
#define AB_IDENTITY_GENERATION 0x01

/* Scope flags: what the enforcer does for a cgroup. */
#define AB_SCOPE_ENFORCE 0x01    /* apply the rules to processes of this cgroup */
#define AB_SCOPE_WATCH_EXEC 0x02 /* report every exec (observe events) */
#define AB_SCOPE_PROTECT 0x04    /* memory rules protect this cgroup's processes */

struct ab_scope {
  __u32 flags;
  __u32 mnt_ns;     /* inode number of the container's mount namespace (0: not checked) */
  __u64 cgroup_id;  /* the scoped cgroup itself (a process may sit in a cgroup below it) */
  __u32 runtime_mnt_ns; /* the enforcer's own (the runtime's): a joiner (runc exec) on its way in */
  __u32 root_dev;       /* the container's root directory (kernel dev_t, inode): a process whose */
  __u64 root_ino;       /* root is another directory has chrooted (0: not checked) */
};

enum ab_operation {
  AB_OP_EXEC = 1,
  AB_OP_OPEN = 2,
  AB_OP_CONNECT = 3,
  AB_OP_SENDMSG = 4,
  AB_OP_SOCKET = 5,
  AB_OP_PTRACE = 6,
  AB_OP_VM_READ = 7,
  AB_OP_PROC_MEM = 8,
  AB_OP_CAPABLE = 9,
  AB_OP_UNLINK = 10,  /* aux: AB_CHANGE_* (unlink, rmdir) */
  AB_OP_RENAME = 11,  /* aux: AB_CHANGE_* (the object renamed, or the name it takes) */
  AB_OP_LINK = 12,    /* aux: AB_CHANGE_* (the object linked, or the new name) */
  AB_OP_SETATTR = 13, /* aux: AB_CHANGE_* (truncate, chmod, chown) */
};

/* What a change to a file-system object did (ab_event.aux of the change operations). The
 * resource is the object's path; for a rename or link, *_TARGET events name the new name. */
enum ab_change {
  AB_CHANGE_UNLINK = 1,
  AB_CHANGE_RMDIR = 2,
  AB_CHANGE_RENAME = 3,
  AB_CHANGE_RENAME_TARGET = 4,
  AB_CHANGE_LINK = 5,
  AB_CHANGE_LINK_TARGET = 6,
  AB_CHANGE_TRUNCATE = 7,
  AB_CHANGE_CHMOD = 8,
  AB_CHANGE_CHOWN = 9,
};

enum ab_backend {
  AB_BACKEND_TRACEPOINT = 1,
  AB_BACKEND_BPF_LSM = 2,
};

/* How a denial was carried out. */
enum ab_enforcement {
  AB_ENFORCE_NONE = 0,
  AB_ENFORCE_KILL = 1,  /* bpf_send_signal(SIGKILL): tracepoint backend */
  AB_ENFORCE_EPERM = 2, /* the hook returned -EPERM: bpf-lsm and cgroup programs */
};

/* Event flags. */
#define AB_EVENT_PATH_TRUNCATED 0x01
#define AB_EVENT_POSTURE 0x02 /* decided by the default posture, not by a rule */
#define AB_EVENT_WRITE 0x04   /* open for writing */
#define AB_EVENT_FOREIGN_VIEW 0x08 /* the process left its container's view (mount namespace, root) */
#define AB_EVENT_IDENTITY 0x10 /* decided by the protected name of the object, reached by another */
#define AB_EVENT_UNRESOLVED 0x20 /* a name judged before the call could not be resolved ("..") */

struct ab_event {
  __u64 timestamp_ns;     /* bpf_ktime_get_boot_ns */
  __u64 cgroup_id;        /* of the acting process */
  __u64 target_cgroup_id; /* memory operations: of the process whose memory was touched */
  __u32 pid;              /* thread id */
  __u32 tgid;
  __u32 ppid;
  __u32 uid;
  __u32 rule_id;
  __u32 generation;
  __u32 target_pid; /* memory operations */
  __u32 aux;        /* capability number, protocol, open flags */
  __u16 operation;  /* enum ab_operation */
  __u16 port;
  __u8 action;      /* enum ab_action */
  __u8 backend;     /* enum ab_backend */
  __u8 enforcement; /* enum ab_enforcement */
  __u8 flags;       /* AB_EVENT_* */
  __u8 family;      /* AF_INET / AF_INET6 for network operations */
  __u8 reserved[3];
  __u8 address[16];
  char comm[AB_COMM_LEN];
  char exe[AB_PATH_MAX];      /* the acting executable */
  char resource[AB_PATH_MAX]; /* what it acted on: exec'd binary, opened file */
};

#endif /* ARMORBENCH_ENFORCER_ABI_H */
