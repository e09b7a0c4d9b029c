/* Exec rules for the tracepoint backend, and the exec watch of both backends.
 * sched/sched_process_exec fires after the new image is loaded and before it runs a single
 * user instruction (HOST-NOTES), so SIGKILL here stops the binary without adding any cost to
 * syscalls (unlike a syscalls/sys_enter_execve tracepoint, which slows every syscall). */
#include "common.bpf.h"

/* Set by the loader: whether this object enforces exec rules (tracepoint backend) or only
 * watches (bpf-lsm enforces in lsm/bprm_check_security). */
const volatile __u8 ab_enforce_exec = 1;

SEC("tp/sched/sched_process_exec")
int ab_sched_process_exec(struct trace_event_raw_sched_process_exec* ctx) {
  struct ab_scope* scope = ab_current_scope();
  if (!scope) return 0;
  const __u32 flags = scope->flags;
  struct ab_scratch* s = ab_get_scratch();
  if (!s) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();

  /* Processes that join the cgroup without forking inside it (runc exec) become protected
   * here; forks are tracked in memory.bpf.c. */
  if (flags & AB_SCOPE_PROTECT) {
    __u32 tid = (__u32)pid_tgid;
    __u64 cgroup = bpf_get_current_cgroup_id();
    bpf_map_update_elem(&ab_protected, &tid, &cgroup, BPF_ANY);
  }

  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  ab_resolve_exe(s, task, s->path, &s->path_truncated);
  const __u8 depth = s->path_depth;

  if (flags & AB_SCOPE_WATCH_EXEC) {
    struct ab_decision observe = {AB_ACTION_OBSERVE, 0, 0};
    struct ab_event* e = ab_new_event(0, s, AB_OP_EXEC, observe, AB_ENFORCE_NONE);
    if (e) {
      bpf_probe_read_kernel_str(e->resource, AB_PATH_MAX, s->path);
      bpf_ringbuf_submit(e, 0);
    }
  }
  if (!ab_enforce_exec || !(flags & AB_SCOPE_ENFORCE)) return 0;

  void* rules = ab_active_rules();
  if (!rules) return 0;
  /* The source of an exec is the parent's executable, as in KubeArmor. */
  struct task_struct* parent = BPF_CORE_READ(task, real_parent);
  ab_resolve_exe(s, parent, s->source, &s->source_truncated);
  struct ab_rule* rule = ab_lookup_path(rules, s, AB_KIND_EXEC, 0, s->path);
  struct ab_decision d = ab_apply_rule(rules, s, rule, depth, s->source, 0);
  if (s->path_truncated) ab_fail_closed(rules, s, &d, AB_EVENT_PATH_TRUNCATED);
  if (ab_foreign_view(scope)) ab_fail_closed(rules, s, &d, AB_EVENT_FOREIGN_VIEW);
  if (!ab_reported(d.action)) return 0;

  __u8 enforcement = AB_ENFORCE_NONE;
  if (d.action == AB_ACTION_BLOCK) {
    bpf_send_signal(AB_SIGKILL);
    enforcement = AB_ENFORCE_KILL;
  }
  struct ab_event* e = ab_new_event(rules, s, AB_OP_EXEC, d, enforcement);
  if (!e) return 0;
  bpf_probe_read_kernel_str(e->exe, AB_PATH_MAX, s->source);
  bpf_probe_read_kernel_str(e->resource, AB_PATH_MAX, s->path);
  bpf_ringbuf_submit(e, 0);
  return 0;
}
