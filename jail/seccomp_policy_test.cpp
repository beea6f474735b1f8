#include "jail/seccomp_policy.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <sys/syscall.h>

#include "jail/bpf_eval.h"

namespace initos {
namespace {

constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;

seccomp_data Call(int nr, std::initializer_list<uint64_t> args = {},
                  uint32_t arch = AUDIT_ARCH_X86_64) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  size_t i = 0;
  for (uint64_t a : args) d.args[i++] = a;
  return d;
}

class DefaultPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = CompileSeccomp(DefaultSeccompPolicy());
    ASSERT_TRUE(p.ok()) << p.error().str();
    program_ = *p;
  }
  uint32_t Eval(const seccomp_data& d) {
    auto r = EvaluateSeccomp(program_, d);
    EXPECT_TRUE(r.ok()) << r.error().str();
    return r.ok() ? *r : 0xdeadbeef;
  }
  std::vector<sock_filter> program_;
};

TEST_F(DefaultPolicy, EveryUnconditionalDenyReturnsEperm) {
  int checked = 0;
  for (const auto& rule : DefaultSeccompPolicy().rules) {
    if (!rule.args.empty()) continue;
    int nr = seccomp_syscall_resolve_name(rule.syscall.c_str());
    ASSERT_NE(nr, __NR_SCMP_ERROR) << rule.syscall;
    if (nr < 0) continue;  // vm86, vm86old: no such syscall on x86_64
    EXPECT_EQ(Eval(Call(nr, {1, 2, 3})), kEperm) << rule.syscall;
    ++checked;
  }
  EXPECT_GE(checked, 35);
}

TEST_F(DefaultPolicy, NamedEscapeSurfaceIsDenied) {
  for (int nr : {SYS_kexec_load,
                 SYS_kexec_file_load,
                 SYS_init_module,
                 SYS_finit_module,
                 SYS_delete_module,
                 SYS_bpf,
                 SYS_perf_event_open,
                 SYS_keyctl,
                 SYS_add_key,
                 SYS_request_key,
                 SYS_open_by_handle_at,
                 SYS_name_to_handle_at,
                 SYS_userfaultfd,
                 SYS_reboot,
                 SYS_swapon,
                 SYS_swapoff,
                 SYS_acct,
                 SYS_settimeofday,
                 SYS_clock_settime,
                 SYS_clock_adjtime,
                 SYS_adjtimex,
                 SYS_syslog,
                 SYS_iopl,
                 SYS_ioperm,
                 SYS_lookup_dcookie,
                 SYS_quotactl,
                 SYS_nfsservctl,
                 SYS_uselib,
                 SYS_fsopen,
                 SYS_fsconfig,
                 SYS_fsmount,
                 SYS_fspick,
                 SYS_open_tree,
                 SYS_move_mount,
                 SYS_mount_setattr}) {
    EXPECT_EQ(Eval(Call(nr)), kEperm) << "syscall " << nr;
  }
}

TEST_F(DefaultPolicy, EverydaySyscallsAllowed) {
  for (int nr : {SYS_read, SYS_write, SYS_openat, SYS_mount, SYS_clone, SYS_clone3, SYS_unshare,
                 SYS_ptrace, SYS_execve, SYS_getpid, SYS_exit_group}) {
    EXPECT_EQ(Eval(Call(nr, {0, 0, 0})), SECCOMP_RET_ALLOW) << "syscall " << nr;
  }
}

TEST_F(DefaultPolicy, IoctlTerminalInjectionDenied) {
  EXPECT_EQ(Eval(Call(SYS_ioctl, {0, 0x5412})), kEperm);  // TIOCSTI
  EXPECT_EQ(Eval(Call(SYS_ioctl, {0, 0x541C})), kEperm);  // TIOCLINUX
  // Garbage in the upper 32 bits must not get TIOCSTI through.
  EXPECT_EQ(Eval(Call(SYS_ioctl, {0, 0xabcd000000005412ull})), kEperm);
  EXPECT_EQ(Eval(Call(SYS_ioctl, {0, 0x5401})), SECCOMP_RET_ALLOW);  // TCGETS
  EXPECT_EQ(Eval(Call(SYS_ioctl, {0x5412, 0x5401})), SECCOMP_RET_ALLOW);
}

TEST_F(DefaultPolicy, PersonalityOnlyLinuxAndQuery) {
  EXPECT_EQ(Eval(Call(SYS_personality, {0})), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Eval(Call(SYS_personality, {0xffffffff})), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Eval(Call(SYS_personality, {0x0008})), kEperm);
  EXPECT_EQ(Eval(Call(SYS_personality, {0x0040000})), kEperm);  // ADDR_NO_RANDOMIZE
  EXPECT_EQ(Eval(Call(SYS_personality, {0x0400000})), kEperm);  // READ_IMPLIES_EXEC
  EXPECT_EQ(Eval(Call(SYS_personality, {1})), kEperm);
  EXPECT_EQ(Eval(Call(SYS_personality, {0x80000000})), kEperm);
  EXPECT_EQ(Eval(Call(SYS_personality, {0xfffffffe})), kEperm);
  EXPECT_EQ(Eval(Call(SYS_personality, {0x7fffffff})), kEperm);
  // The kernel reads an unsigned int: the upper half does not change the verdict.
  EXPECT_EQ(Eval(Call(SYS_personality, {0x100000000ull})), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Eval(Call(SYS_personality, {0x100000008ull})), kEperm);
  // Every single-bit persona flag is refused.
  for (int bit = 0; bit < 32; ++bit) {
    EXPECT_EQ(Eval(Call(SYS_personality, {uint64_t{1} << bit})), kEperm) << "bit " << bit;
  }
}

TEST_F(DefaultPolicy, WrongArchitectureKilled) {
  EXPECT_EQ(Eval(Call(SYS_getpid, {}, AUDIT_ARCH_I386)), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(Eval(Call(SYS_getpid, {}, AUDIT_ARCH_AARCH64)), SECCOMP_RET_KILL_PROCESS);
}

TEST_F(DefaultPolicy, X32SyscallsNotAllowed) {
  // x32 entry points carry bit 30 in nr on the x86_64 arch value.
  // libseccomp treats them as a foreign ABI: the bad-arch action.
  EXPECT_EQ(Eval(Call(0x40000000 | SYS_getpid)), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(Eval(Call(0x40000000 | SYS_kexec_load)), SECCOMP_RET_KILL_PROCESS);
}

TEST(SeccompCompile, UnknownSyscallIsNamed) {
  SeccompPolicy p;
  p.rules.push_back({"no_such_syscall", {SeccompAction::Kind::kErrno, EPERM}, {}});
  auto r = CompileSeccomp(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("no_such_syscall"), std::string::npos) << r.error().str();
}

TEST(SeccompCompile, KillDefaultWithAllowList) {
  SeccompPolicy p;
  p.default_action = {SeccompAction::Kind::kKill, 0};
  p.rules.push_back({"read", {}, {}});
  p.rules.push_back({"write", {}, {{0, SeccompArg::Op::kEq, 1, 0}}});
  auto prog = CompileSeccomp(p);
  ASSERT_TRUE(prog.ok()) << prog.error().str();
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_read)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_write, {1})), SECCOMP_RET_ALLOW);
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_write, {2})), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_getpid)), SECCOMP_RET_KILL_PROCESS);
}

// ---- evaluator --------------------------------------------------------------

TEST(BpfEval, RejectsBadPrograms) {
  seccomp_data d = Call(SYS_read);
  EXPECT_FALSE(EvaluateSeccomp({}, d).ok());
  // Load past the end of seccomp_data.
  EXPECT_FALSE(
      EvaluateSeccomp({BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_K, 0)}, d)
          .ok());
  // Unaligned load.
  EXPECT_FALSE(
      EvaluateSeccomp({BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_K, 0)}, d)
          .ok());
  // Jump out of range.
  EXPECT_FALSE(EvaluateSeccomp({BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0)}, d).ok());
  EXPECT_FALSE(EvaluateSeccomp({BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 3)}, d).ok());
  // Unknown opcode (BPF_LD | BPF_H | BPF_IND), no return at the end.
  EXPECT_FALSE(EvaluateSeccomp({BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0)}, d).ok());
  EXPECT_FALSE(EvaluateSeccomp({BPF_STMT(BPF_LD | BPF_IMM, 1)}, d).ok());
  // Scratch index out of range.
  EXPECT_FALSE(EvaluateSeccomp({BPF_STMT(BPF_ST, 16), BPF_STMT(BPF_RET | BPF_K, 0)}, d).ok());
}

TEST(BpfEval, ScratchAluAndRegisters) {
  seccomp_data d = Call(7, {0x1234});
  std::vector<sock_filter> prog = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),  // A = 0x1234
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),                            // A = 0x34
      BPF_STMT(BPF_ST, 3),                                                  // M[3] = A
      BPF_STMT(BPF_LD | BPF_IMM, 0x100),                                    // A = 0x100
      BPF_STMT(BPF_MISC | BPF_TAX, 0),                                      // X = 0x100
      BPF_STMT(BPF_LD | BPF_MEM, 3),                                        // A = 0x34
      BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),                                // A = 0x134
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x134, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, 1),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x4, 0, 1),
      BPF_STMT(BPF_RET | BPF_A, 0),
      BPF_STMT(BPF_RET | BPF_K, 2),
  };
  auto r = EvaluateSeccomp(prog, d);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, 0x134u);
}

// ---- profiles ---------------------------------------------------------------

TEST(SeccompProfile, ParsesRulesArgsAndActions) {
  auto p = ParseSeccompProfile(R"(
default-action = "allow"

[[rule]]
syscalls = ["kexec_load", "bpf"]
action = "errno:EPERM"

[[rule]]
syscalls = ["ioctl"]
action = "errno:EACCES"
args = [{ index = 1, op = "masked-eq", value = 0x5412, mask = 0xffffffff }]

[[rule]]
syscalls = ["personality"]
action = "kill"
args = [{ index = 0, op = "eq", value = 8 }, { index = 1, op = "ne", value = "0xffffffffffffffff" }]
)",
                               "p.toml");
  ASSERT_TRUE(p.ok()) << p.error().str();
  ASSERT_EQ(p->rules.size(), 4u);
  EXPECT_EQ(p->default_action, SeccompAction{});
  EXPECT_EQ(p->rules[0].syscall, "kexec_load");
  EXPECT_EQ(p->rules[1].syscall, "bpf");
  EXPECT_EQ(p->rules[1].action, (SeccompAction{SeccompAction::Kind::kErrno, EPERM}));
  EXPECT_EQ(p->rules[2].action, (SeccompAction{SeccompAction::Kind::kErrno, EACCES}));
  EXPECT_EQ(p->rules[2].args,
            (std::vector<SeccompArg>{{1, SeccompArg::Op::kMaskedEq, 0x5412, 0xffffffff}}));
  EXPECT_EQ(p->rules[3].action.kind, SeccompAction::Kind::kKill);
  EXPECT_EQ(p->rules[3].args[1].value, 0xffffffffffffffffull);
  EXPECT_EQ(p->rules[3].args[1].op, SeccompArg::Op::kNe);

  auto prog = CompileSeccomp(*p);
  ASSERT_TRUE(prog.ok()) << prog.error().str();
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_ioctl, {0, 0x5412})), SECCOMP_RET_ERRNO | EACCES);
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_bpf)), kEperm);
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_personality, {8})), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(*EvaluateSeccomp(*prog, Call(SYS_personality, {0})), SECCOMP_RET_ALLOW);
}

TEST(SeccompProfile, NumericErrnoAndKillDefault) {
  auto p = ParseSeccompProfile(
      "default-action = \"kill\"\n[[rule]]\nsyscalls = [\"read\"]\naction = \"allow\"\n"
      "[[rule]]\nsyscalls = [\"open\"]\naction = \"errno:13\"\n",
      "p.toml");
  ASSERT_TRUE(p.ok()) << p.error().str();
  EXPECT_EQ(p->default_action.kind, SeccompAction::Kind::kKill);
  EXPECT_EQ(p->rules[1].action, (SeccompAction{SeccompAction::Kind::kErrno, 13}));
}

void ExpectProblem(std::string_view text, std::string_view expected) {
  auto p = ParseSeccompProfile(text, "bad.toml");
  ASSERT_FALSE(p.ok()) << text;
  EXPECT_NE(p.error().str().find(expected), std::string::npos)
      << "got: " << p.error().str() << "\nwanted: " << expected;
  EXPECT_EQ(p.error().str().rfind("bad.toml:", 0), 0u) << p.error().str();
  EXPECT_NE(p.error().str().find("; "), std::string::npos) << p.error().str();
}

TEST(SeccompProfile, BadProfilesNameFileLineAndFix) {
  ExpectProblem("default-action = \"allow\"\n[[rule]\n", "bad.toml:2: TOML syntax error");
  ExpectProblem("[[rule]]\nsyscalls = [\"bpf\"]\naction = \"kill\"\n", "default-action missing");
  ExpectProblem("default-action = \"deny\"\n", "bad.toml:1: default-action: unknown action");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"kexec_lod\"]\naction = "
      "\"kill\"\n",
      "bad.toml:3: unknown syscall \"kexec_lod\"");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"bpf\"]\naction = "
      "\"errno:EWHAT\"\n",
      "bad.toml:4: action: unknown errno name \"EWHAT\"");
  ExpectProblem("default-action = \"allow\"\n[[rule]]\nsyscalls = [\"bpf\"]\n",
                "bad.toml:2: rule without action");
  ExpectProblem("default-action = \"allow\"\n[[rule]]\naction = \"kill\"\n",
                "bad.toml:2: rule without syscalls");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"bpf\"]\naction = "
      "\"allow\"\n",
      "has the default action");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"ioctl\"]\naction = "
      "\"kill\"\nargs = [{ index = 6, op = \"eq\", value = 1 }]\n",
      "bad.toml:5: args index 6; use 0..5");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"ioctl\"]\naction = "
      "\"kill\"\nargs = [{ index = 1, op = \"lt\", value = 1 }]\n",
      "unknown op \"lt\"");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"ioctl\"]\naction = "
      "\"kill\"\nargs = [{ index = 1, op = \"eq\", value = 1, mask = 3 }]\n",
      "mask goes with op = \"masked-eq\"");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"ioctl\"]\naction = "
      "\"kill\"\nargs = [{ index = 1, op = \"eq\", value = -1 }]\n",
      "value is negative");
  ExpectProblem(
      "default-action = \"allow\"\n[[rule]]\nsyscalls = [\"ioctl\"]\naction = "
      "\"kill\"\nargs = [{ index = 1, op = \"ne\", value = 1 }, { index = 1, op = "
      "\"ne\", value = 2 }]\n",
      "bad.toml:5: args index 1 compared twice");
  ExpectProblem("default-action = \"allow\"\nsyscalls = []\n", "bad.toml:2: unknown key");
}

}  // namespace
}  // namespace initos
