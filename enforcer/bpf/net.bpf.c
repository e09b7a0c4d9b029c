/* Network rules for the tracepoint backend, as cgroup programs attached to each scoped
 * container's cgroup (so they cost nothing anywhere else): socket creation by protocol
 * (KubeArmor's matchProtocols, enforced where KubeArmor enforces them) and connect/sendmsg by
 * address, CIDR and port. Returning 0 makes the syscall fail with EPERM. */
#include "common.bpf.h"

SEC("cgroup/sock_create")
int ab_sock_create(struct bpf_sock* ctx) {
  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE)) return 1;
  if (ctx->family != AB_AF_INET && ctx->family != AB_AF_INET6) return 1;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 1;
  __u32 protocol = 0;
  struct ab_decision d = ab_socket_decision(rules, s, ctx->type, ctx->protocol, &protocol);
  if (!ab_reported(d.action)) return 1;
  ab_report_network(rules, s, d, AB_OP_SOCKET, ctx->family, protocol, 0, 0);
  return d.action == AB_ACTION_BLOCK ? 0 : 1;
}

/* `v6` is a constant per program: connect4/sendmsg4 may only read user_ip4, the 6 variants
 * only user_ip6. */
static __always_inline int ab_on_address(struct bpf_sock_addr* ctx, __u16 operation, const int v6) {
  /* Context fields are read once, up front, at fixed offsets: the verifier refuses a context
   * pointer the compiler has moved (e.g. a hoisted ctx+4 shared by two branches). */
  const __u32 family = v6 ? AB_AF_INET6 : AB_AF_INET;
  const __u32 user_port = ctx->user_port;
  const __u32 type = ctx->type;
  const __u32 sock_protocol = ctx->protocol;
  __u8 address[16] = {};
  if (v6) {
    const __u32 ip6[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
    __builtin_memcpy(address, ip6, 16);
  } else {
    ab_v4_mapped(address, ctx->user_ip4);
  }

  struct ab_scope* scope = ab_current_scope();
  if (!scope || !(scope->flags & AB_SCOPE_ENFORCE)) return 1;
  struct ab_scratch* s = ab_get_scratch();
  void* rules = ab_active_rules();
  if (!s || !rules) return 1;
  const __u16 port = bpf_ntohs((__u16)user_port);
  const __u32 protocol = ab_protocol_class(type, sock_protocol);
  struct ab_decision d = ab_address_decision(rules, s, port, protocol, address);
  if (!ab_reported(d.action)) return 1;
  ab_report_network(rules, s, d, operation, family, protocol, port, address);
  return d.action == AB_ACTION_BLOCK ? 0 : 1;
}

SEC("cgroup/connect4")
int ab_connect4(struct bpf_sock_addr* ctx) {
  return ab_on_address(ctx, AB_OP_CONNECT, 0);
}

SEC("cgroup/connect6")
int ab_connect6(struct bpf_sock_addr* ctx) {
  return ab_on_address(ctx, AB_OP_CONNECT, 1);
}

SEC("cgroup/sendmsg4")
int ab_sendmsg4(struct bpf_sock_addr* ctx) {
  return ab_on_address(ctx, AB_OP_SENDMSG, 0);
}

SEC("cgroup/sendmsg6")
int ab_sendmsg6(struct bpf_sock_addr* ctx) {
  return ab_on_address(ctx, AB_OP_SENDMSG, 1);
}
