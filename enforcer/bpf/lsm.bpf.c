/* The bpf-lsm backend: the same rules decided in LSM hooks, which can refuse an operation
 * before it happens (-EPERM) instead of killing the process afterwards. Loaded only where the
 * kernel accepts lsm programs and runs the bpf LSM (HOST-NOTES: inside the Debian guest, not on
 * these hosts). The loader enables only the hooks the rule set needs. */
#include "common.bpf.h"

#define AB_FMODE_EXEC 0x20

/* Argument n of an lsm hook as a plain word, not the typed pointer the verifier tracks, for the
 * global functions below (which take only words). */
static __always_inline __u64 ab_arg_word(unsigned long long* ctx, int n) {
  __u64 word = 0;
  bpf_probe_read_kernel(&word, sizeof word, &ctx[n]);
  return word;
}

static __always_inline int ab_verdict(struct ab_decision d) {
  return d.action == AB_ACTION_BLOCK ? -AB_EPERM : 0;
}

static __always_inline __u8 ab_enforcement(struct ab_decision d) {
  return d.action == AB_ACTION_BLOCK ? AB_ENFORCE_EPERM : AB_ENFORCE_NONE;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(ab_bprm_check_security, struct linux_binprm* bprm, int ret) {
  if (ret) return ret;
  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE)) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  struct file* file = BPF_CORE_READ(bprm, file);
  ab_resolve_file(s, file, s->path, &s->path_truncated);
  const __u8 depth = s->path_depth;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct task_struct* parent = BPF_CORE_READ(task, real_parent);
  ab_resolve_exe(s, parent, s->source, &s->source_truncated);
  struct ab_rule* rule = ab_lookup_path(rules, s, AB_KIND_EXEC, 0, s->path);
  struct ab_decision d = ab_apply_rule(rules, s, rule, depth, s->source, 0);
  if (s->path_truncated) ab_fail_closed(rules, s, &d, AB_EVENT_PATH_TRUNCATED);
  if (ab_foreign_view(scope)) ab_fail_closed(rules, s, &d, AB_EVENT_FOREIGN_VIEW);
  if (!ab_reported(d.action)) return 0;
  struct ab_event* e = ab_new_event(rules, s, AB_OP_EXEC, d, ab_enforcement(d));
  if (e) {
    bpf_probe_read_kernel_str(e->exe, AB_PATH_MAX, s->source);
    bpf_probe_read_kernel_str(e->resource, AB_PATH_MAX, s->path);
    bpf_ringbuf_submit(e, 0);
  }
  return ab_verdict(d);
}

SEC("lsm/file_open")
int BPF_PROG(ab_file_open, struct file* file, int ret) {
  if (ret) return ret;
  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE)) return 0;
  const __u32 mode = BPF_CORE_READ(file, f_mode);
  if (mode & AB_FMODE_EXEC) return 0; /* the exec itself is judged by bprm_check_security */
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  ab_resolve_file(s, file, s->path, &s->path_truncated);
  const __u8 depth = s->path_depth;
  const int is_write = (mode & AB_FMODE_WRITE) != 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct ab_decision d = ab_path_decision(&rules, s, AB_KIND_FILE,
                                          BPF_CORE_READ(file, f_path.dentry), depth, is_write);
  if (s->path_truncated) ab_fail_closed(rules, s, &d, AB_EVENT_PATH_TRUNCATED);
  if (ab_foreign_view(scope)) ab_fail_closed(rules, s, &d, AB_EVENT_FOREIGN_VIEW);
  if (!ab_reported(d.action)) return 0;
  if (is_write) d.flags |= AB_EVENT_WRITE;
  struct ab_event* e = ab_new_event(rules, s, AB_OP_OPEN, d, ab_enforcement(d));
  if (e) {
    ab_resolve_exe(s, task, e->exe, &s->source_truncated);
    bpf_probe_read_kernel_str(e->resource, AB_PATH_MAX, s->path);
    e->aux = is_write;
    bpf_ringbuf_submit(e, 0);
  }
  return ab_verdict(d);
}

/* Changes to protected objects, refused before they happen. `mnt` is the mount the dentry is
 * reached through (the parent directory's for names being removed or created). A global
 * function, verified once rather than at each of its call sites (a rename judges two names):
 * its arguments are plain words, every read through them a probe. */
__noinline int ab_change(__u64 dentry_word, __u64 mnt_word, __u32 operation, __u32 change) {
  struct dentry* dentry = (struct dentry*)dentry_word;
  struct vfsmount* mnt = (struct vfsmount*)mnt_word;
  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE)) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  ab_resolve_path(s, dentry, mnt, s->path, &s->path_truncated);
  struct ab_decision d = ab_change_decision(&rules, s, scope, dentry);
  if (!ab_reported(d.action)) return 0;
  ab_report_change(rules, s, operation, change, d, ab_enforcement(d));
  return ab_verdict(d);
}

SEC("lsm/path_unlink")
int BPF_PROG(ab_path_unlink, const struct path* dir, struct dentry* dentry, int ret) {
  if (ret) return ret;
  return ab_change(ab_arg_word(ctx, 1), (__u64)BPF_CORE_READ(dir, mnt), AB_OP_UNLINK,
                   AB_CHANGE_UNLINK);
}

SEC("lsm/path_rmdir")
int BPF_PROG(ab_path_rmdir, const struct path* dir, struct dentry* dentry, int ret) {
  if (ret) return ret;
  return ab_change(ab_arg_word(ctx, 1), (__u64)BPF_CORE_READ(dir, mnt), AB_OP_UNLINK,
                   AB_CHANGE_RMDIR);
}

/* Both ends: moving a protected object away, and putting something in a protected name's place. */
SEC("lsm/path_rename")
int BPF_PROG(ab_path_rename, const struct path* old_dir, struct dentry* old_dentry,
             const struct path* new_dir, struct dentry* new_dentry, unsigned int flags, int ret) {
  if (ret) return ret;
  int verdict = ab_change(ab_arg_word(ctx, 1), (__u64)BPF_CORE_READ(old_dir, mnt), AB_OP_RENAME,
                          AB_CHANGE_RENAME);
  if (verdict) return verdict;
  return ab_change(ab_arg_word(ctx, 3), (__u64)BPF_CORE_READ(new_dir, mnt), AB_OP_RENAME,
                   AB_CHANGE_RENAME_TARGET);
}

SEC("lsm/path_link")
int BPF_PROG(ab_path_link, struct dentry* old_dentry, const struct path* new_dir,
             struct dentry* new_dentry, int ret) {
  if (ret) return ret;
  struct vfsmount* mnt = BPF_CORE_READ(new_dir, mnt); /* a link never crosses mounts */
  int verdict = ab_change(ab_arg_word(ctx, 0), (__u64)mnt, AB_OP_LINK, AB_CHANGE_LINK);
  if (verdict) return verdict;
  return ab_change(ab_arg_word(ctx, 2), (__u64)mnt, AB_OP_LINK, AB_CHANGE_LINK_TARGET);
}

/* truncate(2) and, up to Linux 6.1, ftruncate(2); later kernels ask file_truncate for the latter.
 */
SEC("lsm/path_truncate")
int BPF_PROG(ab_path_truncate, const struct path* path, int ret) {
  if (ret) return ret;
  return ab_change((__u64)BPF_CORE_READ(path, dentry), (__u64)BPF_CORE_READ(path, mnt),
                   AB_OP_SETATTR, AB_CHANGE_TRUNCATE);
}

SEC("lsm/file_truncate")
int BPF_PROG(ab_file_truncate, struct file* file, int ret) {
  if (ret) return ret;
  return ab_change((__u64)BPF_CORE_READ(file, f_path.dentry),
                   (__u64)BPF_CORE_READ(file, f_path.mnt), AB_OP_SETATTR, AB_CHANGE_TRUNCATE);
}

SEC("lsm/path_chmod")
int BPF_PROG(ab_path_chmod, const struct path* path, umode_t mode, int ret) {
  if (ret) return ret;
  return ab_change((__u64)BPF_CORE_READ(path, dentry), (__u64)BPF_CORE_READ(path, mnt),
                   AB_OP_SETATTR, AB_CHANGE_CHMOD);
}

SEC("lsm/path_chown")
int BPF_PROG(ab_path_chown, const struct path* path, __u32 uid, __u32 gid, int ret) {
  if (ret) return ret;
  return ab_change((__u64)BPF_CORE_READ(path, dentry), (__u64)BPF_CORE_READ(path, mnt),
                   AB_OP_SETATTR, AB_CHANGE_CHOWN);
}

SEC("lsm/socket_create")
int BPF_PROG(ab_socket_create, int family, int type, int protocol, int kern, int ret) {
  if (ret) return ret;
  if (kern || (family != AB_AF_INET && family != AB_AF_INET6)) return 0;
  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE)) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  __u32 class = ab_protocol_class(type, protocol);
  struct ab_decision d = ab_socket_decision(rules, s, type, protocol, &class);
  if (!ab_reported(d.action)) return 0;
  ab_report_network(rules, s, d, AB_OP_SOCKET, family, class, 0, 0);
  return ab_verdict(d);
}

static __always_inline int ab_check_address(struct socket* sock, struct sockaddr* address,
                                            __u16 operation) {
  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE) || !address) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  const __u16 family = BPF_CORE_READ(address, sa_family);
  __u8 bytes[16] = {};
  __u16 port = 0;
  if (family == AB_AF_INET) {
    struct sockaddr_in* in = (struct sockaddr_in*)address;
    port = bpf_ntohs(BPF_CORE_READ(in, sin_port));
    ab_v4_mapped(bytes, BPF_CORE_READ(in, sin_addr.s_addr));
  } else if (family == AB_AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)address;
    port = bpf_ntohs(BPF_CORE_READ(in6, sin6_port));
    bpf_probe_read_kernel(bytes, 16, &in6->sin6_addr);
  } else {
    return 0;
  }
  const __u32 type = BPF_CORE_READ(sock, type);
  const __u32 protocol = ab_protocol_class(type, BPF_CORE_READ(sock, sk, sk_protocol));
  struct ab_decision d = ab_address_decision(rules, s, port, protocol, bytes);
  if (!ab_reported(d.action)) return 0;
  ab_report_network(rules, s, d, operation, family, protocol, port, bytes);
  return ab_verdict(d);
}

SEC("lsm/socket_connect")
int BPF_PROG(ab_socket_connect, struct socket* sock, struct sockaddr* address, int addrlen,
             int ret) {
  if (ret) return ret;
  return ab_check_address(sock, address, AB_OP_CONNECT);
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(ab_socket_sendmsg, struct socket* sock, struct msghdr* msg, int size, int ret) {
  if (ret) return ret;
  struct sockaddr* address = BPF_CORE_READ(msg, msg_name);
  return ab_check_address(sock, address, AB_OP_SENDMSG);
}

/* Covers ptrace attach, process_vm_readv/writev and opening /proc/<pid>/mem|maps: the kernel
 * asks ptrace_may_access for all of them. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(ab_ptrace_access_check, struct task_struct* child, unsigned int mode, int ret) {
  if (ret) return ret;
  __u64 target_cgroup = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
  struct ab_scope* scope = bpf_map_lookup_elem(&ab_scopes, &target_cgroup);
  if (!scope || !(scope->flags & AB_SCOPE_PROTECT)) return 0;
  if (bpf_get_current_cgroup_id() == target_cgroup) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  ab_resolve_exe(s, task, s->source, &s->source_truncated);
  struct ab_rule* rule = ab_lookup_path(rules, s, AB_KIND_MEMORY, 0, s->source);
  struct ab_decision d = ab_apply_rule(rules, s, rule, 0, s->source, 0);
  if (!ab_reported(d.action)) return 0;
  struct ab_event* e = ab_new_event(rules, s, AB_OP_PTRACE, d, ab_enforcement(d));
  if (e) {
    e->target_pid = BPF_CORE_READ(child, tgid);
    e->target_cgroup_id = target_cgroup;
    e->aux = mode;
    bpf_probe_read_kernel_str(e->exe, AB_PATH_MAX, s->source);
    bpf_ringbuf_submit(e, 0);
  }
  return ab_verdict(d);
}

SEC("lsm/capable")
int BPF_PROG(ab_capable, const struct cred* cred, struct user_namespace* ns, int cap,
             unsigned int opts, int ret) {
  if (ret) return ret;
  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE)) return 0;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 0;
  struct ab_decision d =
      ab_rule_decision(ab_lookup_header(rules, s, AB_KIND_CAPABILITY, 0, (__u32)cap));
  if (!ab_reported(d.action)) return 0;
  struct ab_event* e = ab_new_event(rules, s, AB_OP_CAPABLE, d, ab_enforcement(d));
  if (e) {
    struct task_struct* task = (struct task_struct*)bpf_get_current_task();
    ab_resolve_exe(s, task, e->exe, &s->source_truncated);
    e->aux = cap;
    bpf_ringbuf_submit(e, 0);
  }
  return ab_verdict(d);
}
