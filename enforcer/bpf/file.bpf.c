/* File rules for the tracepoint backend, and the /proc/<pid>/mem|maps part of memory rules.
 * The check runs at syscall EXIT on the file the kernel actually opened, so the path is the
 * resolved one (symlinks, "..", dirfd-relative and /proc/self are all seen as what they are)
 * and cannot be swapped after the check. A denied open is answered with SIGKILL, delivered
 * before the process returns to user space: it never gets to use the descriptor. What the open
 * itself did in the kernel (O_CREAT, O_TRUNC) is not undone; bpf-lsm's file_open prevents that. */
#include "common.bpf.h"

const volatile __u8 ab_enforce_files = 0;  /* the rule set has file rules */
const volatile __u8 ab_protect_memory = 0; /* the rule set has memory rules */

static __always_inline struct file* ab_fd_file(struct task_struct* task, long fd) {
  if (fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds)) return 0;
  struct file** table = BPF_CORE_READ(task, files, fdt, fd);
  struct file* file = 0;
  bpf_probe_read_kernel(&file, sizeof(file), &table[fd]);
  return file;
}

/* Whether a procfs file name exposes a process's memory (contents or layout). */
static __always_inline int ab_memory_file(const char* name) {
  if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 0) return 1; /* mem */
  if (name[0] == 'm' && name[1] == 'a' && name[2] == 'p' && name[3] == 's' && name[4] == 0)
    return 1; /* maps */
  if (name[0] == 's' && name[1] == 'm' && name[2] == 'a' && name[3] == 'p' && name[4] == 's')
    return 1; /* smaps, smaps_rollup */
  if (name[0] == 'p' && name[1] == 'a' && name[2] == 'g' && name[3] == 'e' && name[4] == 'm')
    return 1; /* pagemap */
  return 0;
}

/* Memory rules: a process outside a protected cgroup opening /proc/<pid>/{mem,maps,...} of a
 * protected process. The target comes from the proc inode, not from the path text. */
static __always_inline void ab_check_proc_memory(struct ab_scratch* s, struct file* file) {
  struct inode* inode = BPF_CORE_READ(file, f_inode);
  if (BPF_CORE_READ(inode, i_sb, s_magic) != AB_PROC_SUPER_MAGIC) return;
  char name[16] = {};
  struct qstr qname = BPF_CORE_READ(file, f_path.dentry, d_name);
  bpf_probe_read_kernel_str(name, sizeof(name), qname.name);
  if (!ab_memory_file(name)) return;
  struct proc_inode* pi = container_of(inode, struct proc_inode, vfs_inode);
  __u32 target = BPF_CORE_READ(pi, pid, numbers[0].nr);
  __u64* target_cgroup = bpf_map_lookup_elem(&ab_protected, &target);
  if (!target_cgroup) return;
  __u64 cgroup = bpf_get_current_cgroup_id();
  if (cgroup == *target_cgroup) return; /* inside the container itself: not a dump from outside */

  void* rules = ab_active_rules();
  if (!rules) return;
  __u8 enforcement;
  struct ab_decision d = ab_memory_decision(rules, s, &enforcement);
  if (!ab_reported(d.action)) return;
  ab_resolve_file(s, file, s->path, &s->path_truncated);
  struct ab_event* e = ab_new_event(rules, s, AB_OP_PROC_MEM, d, enforcement);
  if (!e) return;
  e->target_pid = target;
  e->target_cgroup_id = *target_cgroup;
  bpf_probe_read_kernel_str(e->exe, AB_PATH_MAX, s->source);
  bpf_probe_read_kernel_str(e->resource, AB_PATH_MAX, s->path);
  bpf_ringbuf_submit(e, 0);
}

static __always_inline void ab_check_file_rules(struct ab_scratch* s, struct ab_scope* scope,
                                                struct file* file) {
  void* rules = ab_active_rules();
  if (!rules) return;
  ab_resolve_file(s, file, s->path, &s->path_truncated);
  const __u8 depth = s->path_depth;
  const int is_write = (BPF_CORE_READ(file, f_mode) & AB_FMODE_WRITE) != 0;
  struct ab_decision d = ab_path_decision(&rules, s, AB_KIND_FILE,
                                          BPF_CORE_READ(file, f_path.dentry), depth, is_write);
  if (s->path_truncated) ab_fail_closed(rules, s, &d, AB_EVENT_PATH_TRUNCATED);
  if (ab_foreign_view(scope)) ab_fail_closed(rules, s, &d, AB_EVENT_FOREIGN_VIEW);
  if (!ab_reported(d.action)) return;
  if (is_write) d.flags |= AB_EVENT_WRITE;
  __u8 enforcement = AB_ENFORCE_NONE;
  if (d.action == AB_ACTION_BLOCK) {
    bpf_send_signal(AB_SIGKILL);
    enforcement = AB_ENFORCE_KILL;
  }
  struct ab_event* e = ab_new_event(rules, s, AB_OP_OPEN, d, enforcement);
  if (!e) return;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  ab_resolve_exe(s, task, e->exe, &s->source_truncated);
  bpf_probe_read_kernel_str(e->resource, AB_PATH_MAX, s->path);
  e->aux = is_write;
  bpf_ringbuf_submit(e, 0);
}

static __always_inline int ab_on_open_exit(long ret) {
  if (ret < 0) return 0;
  struct ab_scope* scope = ab_enforce_files ? ab_current_scope() : 0;
  const int scoped = scope && (scope->flags & AB_SCOPE_ENFORCE);
  if (!scoped && !ab_protect_memory) return 0;
  struct ab_scratch* s = ab_get_scratch();
  if (!s) return 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct file* file = ab_fd_file(task, ret);
  if (!file) return 0;
  if (ab_protect_memory) ab_check_proc_memory(s, file);
  if (scoped) ab_check_file_rules(s, scope, file);
  return 0;
}

SEC("tp/syscalls/sys_exit_openat")
int ab_sys_exit_openat(struct trace_event_raw_sys_exit* ctx) {
  return ab_on_open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int ab_sys_exit_openat2(struct trace_event_raw_sys_exit* ctx) {
  return ab_on_open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_open")
int ab_sys_exit_open(struct trace_event_raw_sys_exit* ctx) {
  return ab_on_open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_creat")
int ab_sys_exit_creat(struct trace_event_raw_sys_exit* ctx) {
  return ab_on_open_exit(ctx->ret);
}

/* Changes to protected objects (unlink, rmdir, rename, link, truncate, chmod, chown), judged at
 * syscall entry and answered with SIGKILL, which arrives when the call returns: the process does
 * not go on, but the change itself is made (no tracepoint can refuse a call; bpf-lsm's path
 * hooks do). Calls on a descriptor are judged on the open file, exactly; calls on a name are
 * judged on the name the kernel is about to resolve: the directory (the descriptor's, or the
 * working directory) resolved like an open, the name appended. Names with "." or ".." components
 * or empty ones are not judged lexically: they fail closed (AB_EVENT_UNRESOLVED). Symbolic links
 * in the name are not followed, and a renamed or linked protected object named through its new
 * name is not recognised before the call: gaps the README lists for this backend. */

#define AB_AT_FDCWD -100
#define AB_AT_REMOVEDIR 0x200
#define AB_AT_EMPTY_PATH 0x1000

struct ab_name_scan {
  __u8 depth;   /* non-empty components */
  __u8 segment; /* length of the current component */
  __u8 dots;    /* dots in it */
  __u8 slash;   /* the previous byte was '/' */
  __u8 unresolved;
};

static long ab_scan_step(__u32 index, void* ctx) {
  struct ab_name_scan* scan = ctx;
  struct ab_scratch* s = ab_get_scratch();
  if (!s || index >= AB_PATH_MAX) return 1;
  __u32 i = index;
  barrier_var(i); /* keeps the mask below, which gives the verifier its bound */
  const char c = s->path[i & 0xff];
  if (c == '/' || c == 0) {
    if (scan->segment) {
      if (scan->segment == scan->dots && scan->dots <= 2) scan->unresolved = 1; /* . or .. */
      scan->depth += 1;
    } else if (c == '/' && index > 0 && scan->slash) {
      scan->unresolved = 1; /* "//": an empty component */
    }
    scan->segment = 0;
    scan->dots = 0;
    scan->slash = c == '/';
    return c == 0;
  }
  scan->segment += 1;
  if (c == '.') scan->dots += 1;
  scan->slash = 0;
  return 0;
}

/* Resolves (dirfd, name) into s->path as the call will see it, with s->path_depth and
 * s->path_truncated set; returns 0 when the name cannot be read (the call will fail with EFAULT).
 */
static __always_inline int ab_resolve_name(struct ab_scratch* s, long dirfd, const char* name,
                                           __u8* unresolved) {
  char first = 0;
  if (bpf_probe_read_user(&first, 1, name)) return 0;
  *unresolved = 0;
  s->path_truncated = 0;
  if (first == '/') {
    long n = bpf_probe_read_user_str(s->path, AB_PATH_MAX, name);
    if (n < 0) return 0;
    if (n >= AB_PATH_MAX) s->path_truncated = 1;
  } else {
    struct task_struct* task = (struct task_struct*)bpf_get_current_task();
    struct dentry* dentry;
    struct vfsmount* mnt;
    if ((int)dirfd == AB_AT_FDCWD) {
      dentry = BPF_CORE_READ(task, fs, pwd.dentry);
      mnt = BPF_CORE_READ(task, fs, pwd.mnt);
    } else {
      struct file* dir = ab_fd_file(task, dirfd);
      if (!dir) return 0; /* a bad descriptor: the call fails with EBADF */
      dentry = BPF_CORE_READ(dir, f_path.dentry);
      mnt = BPF_CORE_READ(dir, f_path.mnt);
    }
    /* The directory's path ends at walk[AB_WALK_BUF - 2]; the name goes after a '/', in the
     * AB_NAME_MAX + 1 bytes the walk buffer has past AB_WALK_BUF - 1. */
    const int len = ab_resolve_path(s, dentry, mnt, s->path, &s->path_truncated);
    const __u32 start = AB_WALK_BUF - 1 - (__u32)len;
    long n;
    if (len == 1) { /* the root: its "/" at walk[AB_WALK_BUF - 2] is the separator */
      n = bpf_probe_read_user_str(&s->walk[AB_WALK_BUF - 1], AB_NAME_MAX + 1, name);
    } else {
      s->walk[AB_WALK_BUF - 1] = '/';
      n = bpf_probe_read_user_str(&s->walk[AB_WALK_BUF], AB_NAME_MAX + 1, name);
    }
    if (n < 0) return 0;
    if (n > AB_NAME_MAX) s->path_truncated = 1;
    long total =
        bpf_probe_read_kernel_str(s->path, AB_PATH_MAX, &s->walk[start & (AB_WALK_BUF - 1)]);
    if (total >= AB_PATH_MAX) s->path_truncated = 1;
  }
  struct ab_name_scan scan = {};
  bpf_loop(AB_PATH_MAX, ab_scan_step, &scan, 0);
  s->path_depth = scan.depth;
  *unresolved = scan.unresolved;
  return 1;
}

static __always_inline struct ab_scope* ab_change_scope(void) {
  if (!ab_enforce_files) return 0;
  struct ab_scope* scope = ab_current_scope();
  return scope && (scope->flags & AB_SCOPE_ENFORCE) ? scope : 0;
}

static __always_inline void ab_judge_change(void* rules, struct ab_scratch* s,
                                            const struct ab_scope* scope, struct dentry* dentry,
                                            __u8 unresolved, __u16 operation, __u32 change) {
  struct ab_decision d = ab_change_decision(&rules, s, scope, dentry);
  if (unresolved) ab_fail_closed(rules, s, &d, AB_EVENT_UNRESOLVED);
  if (!ab_reported(d.action)) return;
  __u8 enforcement = AB_ENFORCE_NONE;
  if (d.action == AB_ACTION_BLOCK) {
    bpf_send_signal(AB_SIGKILL);
    enforcement = AB_ENFORCE_KILL;
  }
  ab_report_change(rules, s, operation, change, d, enforcement);
}

/* A change named by (dirfd, name). */
static __always_inline int ab_change_at(long dirfd, const char* name, __u16 operation,
                                        __u32 change) {
  struct ab_scope* scope = ab_change_scope();
  if (!scope) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  __u8 unresolved = 0;
  if (!ab_resolve_name(s, dirfd, name, &unresolved)) return 0;
  ab_judge_change(rules, s, scope, 0, unresolved, operation, change);
  return 0;
}

/* A change made through an open descriptor. */
static __always_inline int ab_change_fd(long fd, __u16 operation, __u32 change) {
  struct ab_scope* scope = ab_change_scope();
  if (!scope) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  struct file* file = ab_fd_file((struct task_struct*)bpf_get_current_task(), fd);
  if (!file) return 0;
  ab_resolve_file(s, file, s->path, &s->path_truncated);
  ab_judge_change(rules, s, scope, BPF_CORE_READ(file, f_path.dentry), 0, operation, change);
  return 0;
}

#define AB_ARG(i) (ctx->args[i])
#define AB_NAME(i) ((const char*)ctx->args[i])

SEC("tp/syscalls/sys_enter_unlink")
int ab_sys_enter_unlink(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_at(AB_AT_FDCWD, AB_NAME(0), AB_OP_UNLINK, AB_CHANGE_UNLINK);
}

SEC("tp/syscalls/sys_enter_rmdir")
int ab_sys_enter_rmdir(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_at(AB_AT_FDCWD, AB_NAME(0), AB_OP_UNLINK, AB_CHANGE_RMDIR);
}

SEC("tp/syscalls/sys_enter_unlinkat")
int ab_sys_enter_unlinkat(struct trace_event_raw_sys_enter* ctx) {
  const __u32 change = (AB_ARG(2) & AB_AT_REMOVEDIR) ? AB_CHANGE_RMDIR : AB_CHANGE_UNLINK;
  return ab_change_at(AB_ARG(0), AB_NAME(1), AB_OP_UNLINK, change);
}

static __always_inline int ab_rename(long olddfd, const char* oldname, long newdfd,
                                     const char* newname) {
  ab_change_at(olddfd, oldname, AB_OP_RENAME, AB_CHANGE_RENAME);
  return ab_change_at(newdfd, newname, AB_OP_RENAME, AB_CHANGE_RENAME_TARGET);
}

SEC("tp/syscalls/sys_enter_rename")
int ab_sys_enter_rename(struct trace_event_raw_sys_enter* ctx) {
  return ab_rename(AB_AT_FDCWD, AB_NAME(0), AB_AT_FDCWD, AB_NAME(1));
}

SEC("tp/syscalls/sys_enter_renameat")
int ab_sys_enter_renameat(struct trace_event_raw_sys_enter* ctx) {
  return ab_rename(AB_ARG(0), AB_NAME(1), AB_ARG(2), AB_NAME(3));
}

SEC("tp/syscalls/sys_enter_renameat2")
int ab_sys_enter_renameat2(struct trace_event_raw_sys_enter* ctx) {
  return ab_rename(AB_ARG(0), AB_NAME(1), AB_ARG(2), AB_NAME(3));
}

SEC("tp/syscalls/sys_enter_link")
int ab_sys_enter_link(struct trace_event_raw_sys_enter* ctx) {
  ab_change_at(AB_AT_FDCWD, AB_NAME(0), AB_OP_LINK, AB_CHANGE_LINK);
  return ab_change_at(AB_AT_FDCWD, AB_NAME(1), AB_OP_LINK, AB_CHANGE_LINK_TARGET);
}

SEC("tp/syscalls/sys_enter_linkat")
int ab_sys_enter_linkat(struct trace_event_raw_sys_enter* ctx) {
  char first = 0;
  bpf_probe_read_user(&first, 1, AB_NAME(1));
  if ((AB_ARG(4) & AB_AT_EMPTY_PATH) && first == 0) /* the descriptor itself gets a name */
    ab_change_fd(AB_ARG(0), AB_OP_LINK, AB_CHANGE_LINK);
  else
    ab_change_at(AB_ARG(0), AB_NAME(1), AB_OP_LINK, AB_CHANGE_LINK);
  return ab_change_at(AB_ARG(2), AB_NAME(3), AB_OP_LINK, AB_CHANGE_LINK_TARGET);
}

SEC("tp/syscalls/sys_enter_truncate")
int ab_sys_enter_truncate(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_at(AB_AT_FDCWD, AB_NAME(0), AB_OP_SETATTR, AB_CHANGE_TRUNCATE);
}

SEC("tp/syscalls/sys_enter_ftruncate")
int ab_sys_enter_ftruncate(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_fd(AB_ARG(0), AB_OP_SETATTR, AB_CHANGE_TRUNCATE);
}

SEC("tp/syscalls/sys_enter_chmod")
int ab_sys_enter_chmod(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_at(AB_AT_FDCWD, AB_NAME(0), AB_OP_SETATTR, AB_CHANGE_CHMOD);
}

SEC("tp/syscalls/sys_enter_fchmod")
int ab_sys_enter_fchmod(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_fd(AB_ARG(0), AB_OP_SETATTR, AB_CHANGE_CHMOD);
}

SEC("tp/syscalls/sys_enter_fchmodat")
int ab_sys_enter_fchmodat(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_at(AB_ARG(0), AB_NAME(1), AB_OP_SETATTR, AB_CHANGE_CHMOD);
}

/* Linux 6.6+: fchmodat with flags (AT_EMPTY_PATH makes it an fchmod). */
SEC("tp/syscalls/sys_enter_fchmodat2")
int ab_sys_enter_fchmodat2(struct trace_event_raw_sys_enter* ctx) {
  char first = 0;
  bpf_probe_read_user(&first, 1, AB_NAME(1));
  if ((AB_ARG(3) & AB_AT_EMPTY_PATH) && first == 0)
    return ab_change_fd(AB_ARG(0), AB_OP_SETATTR, AB_CHANGE_CHMOD);
  return ab_change_at(AB_ARG(0), AB_NAME(1), AB_OP_SETATTR, AB_CHANGE_CHMOD);
}

SEC("tp/syscalls/sys_enter_chown")
int ab_sys_enter_chown(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_at(AB_AT_FDCWD, AB_NAME(0), AB_OP_SETATTR, AB_CHANGE_CHOWN);
}

SEC("tp/syscalls/sys_enter_lchown")
int ab_sys_enter_lchown(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_at(AB_AT_FDCWD, AB_NAME(0), AB_OP_SETATTR, AB_CHANGE_CHOWN);
}

SEC("tp/syscalls/sys_enter_fchown")
int ab_sys_enter_fchown(struct trace_event_raw_sys_enter* ctx) {
  return ab_change_fd(AB_ARG(0), AB_OP_SETATTR, AB_CHANGE_CHOWN);
}

SEC("tp/syscalls/sys_enter_fchownat")
int ab_sys_enter_fchownat(struct trace_event_raw_sys_enter* ctx) {
  char first = 0;
  bpf_probe_read_user(&first, 1, AB_NAME(1));
  if ((AB_ARG(4) & AB_AT_EMPTY_PATH) && first == 0)
    return ab_change_fd(AB_ARG(0), AB_OP_SETATTR, AB_CHANGE_CHOWN);
  return ab_change_at(AB_ARG(0), AB_NAME(1), AB_OP_SETATTR, AB_CHANGE_CHOWN);
}
