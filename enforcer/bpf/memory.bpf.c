/* Memory rules for the tracepoint backend: ptrace and process_vm_readv/writev of a protected
 * process by a process outside its cgroup (the host-side weight dump), plus the tracking of which
 * threads are protected. A denied call is answered with SIGKILL at syscall entry; the pending
 * fatal signal also makes the kernel's page pinning for process_vm_readv bail out, so no page is
 * copied. These are syscalls/sys_enter_* tracepoints: attaching them slows every syscall of
 * every process a little, so they are attached only when a policy has memory rules. */
#include "common.bpf.h"

#define AB_PTRACE_TRACEME 0

/* Kernels from 6.13 find a task by its pid in the caller's pid namespace. */
extern struct task_struct* bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern void bpf_task_release(struct task_struct* p) __ksym __weak;

/* The host thread id of the process a syscall names by `vpid`, a pid in the caller's own pid
 * namespace (a sidecar sharing the pod's namespace, a nested container runtime): the protected
 * map holds host thread ids. 0: no such process. A caller outside the initial namespace on a
 * kernel that cannot translate gets AB_UNRESOLVED_PID, which the caller judges as protected. */
#define AB_UNRESOLVED_PID 0xffffffffu
static __always_inline __u32 ab_host_tid(__u32 vpid) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  if (BPF_CORE_READ(task, thread_pid, level) == 0) return vpid;
  if (!bpf_task_from_vpid) return AB_UNRESOLVED_PID; /* a weak ksym: 0 where absent */
  struct task_struct* target = bpf_task_from_vpid((s32)vpid);
  if (!target) return 0;
  const __u32 tid = BPF_CORE_READ(target, pid);
  bpf_task_release(target);
  return tid;
}

static __always_inline void ab_check_memory_access(__u32 named, __u16 operation, __u32 aux) {
  __u32 target = ab_host_tid(named);
  if (target == 0) return;
  __u64 unresolved_cgroup = 0;
  __u64* target_cgroup = target == AB_UNRESOLVED_PID
                             ? &unresolved_cgroup  /* fails closed: judged as protected */
                             : bpf_map_lookup_elem(&ab_protected, &target);
  if (!target_cgroup) return;
  __u64 cgroup = bpf_get_current_cgroup_id();
  if (cgroup == *target_cgroup) return;
  struct ab_scratch* s = ab_get_scratch();
  if (!s) return;
  void* rules = ab_active_rules();
  if (!rules) return;
  __u8 enforcement;
  struct ab_decision d = ab_memory_decision(rules, s, &enforcement);
  if (!ab_reported(d.action)) return;
  struct ab_event* e = ab_new_event(rules, s, operation, d, enforcement);
  if (!e) return;
  e->target_pid = target == AB_UNRESOLVED_PID ? named : target;
  e->target_cgroup_id = *target_cgroup;
  e->aux = aux;
  bpf_probe_read_kernel_str(e->exe, AB_PATH_MAX, s->source);
  bpf_ringbuf_submit(e, 0);
}

SEC("tp/syscalls/sys_enter_ptrace")
int ab_sys_enter_ptrace(struct trace_event_raw_sys_enter* ctx) {
  const long request = (long)ctx->args[0];
  if (request == AB_PTRACE_TRACEME) return 0;
  ab_check_memory_access((__u32)ctx->args[1], AB_OP_PTRACE, (__u32)request);
  return 0;
}

SEC("tp/syscalls/sys_enter_process_vm_readv")
int ab_sys_enter_process_vm_readv(struct trace_event_raw_sys_enter* ctx) {
  ab_check_memory_access((__u32)ctx->args[0], AB_OP_VM_READ, 0);
  return 0;
}

SEC("tp/syscalls/sys_enter_process_vm_writev")
int ab_sys_enter_process_vm_writev(struct trace_event_raw_sys_enter* ctx) {
  ab_check_memory_access((__u32)ctx->args[0], AB_OP_VM_READ, 1);
  return 0;
}

/* Every thread a protected thread creates is protected (threads too: an attacker could name a
 * thread id instead of the process id). */
SEC("tp/sched/sched_process_fork")
int ab_sched_process_fork(struct trace_event_raw_sched_process_fork* ctx) {
  __u32 parent = ctx->parent_pid;
  __u64* cgroup = bpf_map_lookup_elem(&ab_protected, &parent);
  if (!cgroup) return 0;
  __u32 child = ctx->child_pid;
  __u64 value = *cgroup;
  bpf_map_update_elem(&ab_protected, &child, &value, BPF_ANY);
  return 0;
}

SEC("tp/sched/sched_process_free")
int ab_sched_process_free(struct trace_event_raw_sched_process_template* ctx) {
  __u32 pid = ctx->pid;
  bpf_map_delete_elem(&ab_protected, &pid);
  return 0;
}
