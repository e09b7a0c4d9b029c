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
  struct ab_decision d =
      ab_path_decision(rules, s, AB_KIND_FILE, BPF_CORE_READ(file, f_path.dentry), depth, is_write);
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
