/* The interface between the enforcer's BPF programs and its C++ side, defined once for both:
 * the rule-map key and value, scope flags, and the event record written to the ring buffer.
 * Plain C with fixed-size fields; included by BPF C (with vmlinux.h) and by C++ (with
 * <linux/types.h>). */
#ifndef ARMORBENCH_ENFORCER_ABI_H
#define ARMORBENCH_ENFORCER_ABI_H

#define AB_PATH_MAX 248   /* path bytes in a rule key: 256 (LPM_DATA_SIZE_MAX) minus the header */
#define AB_COMM_LEN 16
#define AB_KEY_HEADER_BITS 64

/* Kinds of rule-map entries (first byte of the LPM key data). */
enum ab_kind {
  AB_KIND_EXEC = 1,          /* data: executable path */
  AB_KIND_FILE = 2,          /* data: file path */
  AB_KIND_SOURCE = 3,        /* aux: rule id; data: source executable path */
  AB_KIND_NET_ADDR = 4,      /* port, aux: family<<8|protocol; data: address bytes */
  AB_KIND_NET_PROTO = 5,     /* aux: family<<8|protocol (socket creation) */
  AB_KIND_POSTURE = 6,       /* aux: category; the default action when nothing matched */
  AB_KIND_MEMORY = 7,        /* data: executable allowed to read protected memory ("" = rule) */
  AB_KIND_CAPABILITY = 8,    /* aux: capability number */
  AB_KIND_GENERATION = 9,    /* value.rule_id: the rule set's generation */
};

/* Posture categories, KubeArmor's: process and file share the file posture. */
enum ab_category {
  AB_CAT_PROCESS = 1,
  AB_CAT_FILE = 2,
  AB_CAT_NETWORK = 3,
  AB_CAT_CAPABILITY = 4,
};

enum ab_action {
  AB_ACTION_NONE = 0,    /* no rule and no posture: allowed, not reported */
  AB_ACTION_ALLOW = 1,
  AB_ACTION_AUDIT = 2,
  AB_ACTION_BLOCK = 3,
  AB_ACTION_OBSERVE = 4, /* exec watch: not a decision, an observation for objectives */
};

/* Rule flags. */
#define AB_RULE_DIR 0x01          /* matches every path below the directory */
#define AB_RULE_RECURSIVE 0x02    /* with DIR: at any depth, else direct children only */
#define AB_RULE_READ_ONLY 0x04    /* reads are allowed, writes take the action */
#define AB_RULE_HAS_SOURCES 0x08  /* applies only when the source matches (fromSource) */

struct ab_rule_key {
  __u32 prefixlen;     /* bits of data that must match; LPM_TRIE semantics */
  __u8 kind;           /* enum ab_kind */
  __u8 reserved;
  __u16 port;          /* NET_ADDR: destination port in host order, 0 = any */
  __u32 aux;           /* see enum ab_kind */
  char data[AB_PATH_MAX];
};

struct ab_rule {
  __u32 rule_id;       /* index into the user-space rule table (policy, message, severity) */
  __u8 action;         /* enum ab_action when the rule applies */
  __u8 flags;          /* AB_RULE_* */
  __u8 fallback_action;  /* when HAS_SOURCES and the source does not match */
  __u8 dir_len;        /* DIR rules: length of the directory prefix (for non-recursive checks) */
  __u32 fallback_rule_id;
};

/* Scope flags: what the enforcer does for a cgroup. */
#define AB_SCOPE_ENFORCE 0x01     /* apply the rules to processes of this cgroup */
#define AB_SCOPE_WATCH_EXEC 0x02  /* report every exec (observe events) */
#define AB_SCOPE_PROTECT 0x04     /* memory rules protect this cgroup's processes */

struct ab_scope {
  __u32 flags;
  __u32 reserved;
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
};

enum ab_backend {
  AB_BACKEND_TRACEPOINT = 1,
  AB_BACKEND_BPF_LSM = 2,
};

/* How a denial was carried out. */
enum ab_enforcement {
  AB_ENFORCE_NONE = 0,
  AB_ENFORCE_KILL = 1,    /* bpf_send_signal(SIGKILL): tracepoint backend */
  AB_ENFORCE_EPERM = 2,   /* the hook returned -EPERM: bpf-lsm and cgroup programs */
};

/* Event flags. */
#define AB_EVENT_PATH_TRUNCATED 0x01
#define AB_EVENT_POSTURE 0x02     /* decided by the default posture, not by a rule */
#define AB_EVENT_WRITE 0x04       /* open for writing */

struct ab_event {
  __u64 timestamp_ns;      /* bpf_ktime_get_boot_ns */
  __u64 cgroup_id;         /* of the acting process */
  __u64 target_cgroup_id;  /* memory operations: of the process whose memory was touched */
  __u32 pid;               /* thread id */
  __u32 tgid;
  __u32 ppid;
  __u32 uid;
  __u32 rule_id;
  __u32 generation;
  __u32 target_pid;        /* memory operations */
  __u32 aux;               /* capability number, protocol, open flags */
  __u16 operation;         /* enum ab_operation */
  __u16 port;
  __u8 action;             /* enum ab_action */
  __u8 backend;            /* enum ab_backend */
  __u8 enforcement;        /* enum ab_enforcement */
  __u8 flags;              /* AB_EVENT_* */
  __u8 family;             /* AF_INET / AF_INET6 for network operations */
  __u8 reserved[3];
  __u8 address[16];
  char comm[AB_COMM_LEN];
  char exe[AB_PATH_MAX];       /* the acting executable */
  char resource[AB_PATH_MAX];  /* what it acted on: exec'd binary, opened file */
};

#endif /* ARMORBENCH_ENFORCER_ABI_H */
