// Classic BPF as the kernel's seccomp runs it (kernel/seccomp.c checks the
// same opcode subset in seccomp_check_filter): loads only from struct
// seccomp_data, 32-bit aligned; forward jumps only; 16 scratch words.
#include "jail/bpf_eval.h"

#include <cstring>

namespace initos {
inline namespace jail {

namespace {

Result<uint32_t> LoadWord(const seccomp_data& data, uint32_t offset, size_t pc) {
  if (offset % 4 != 0 || offset + 4 > sizeof(seccomp_data)) {
    return Err() << "bpf: instruction " << pc << " loads seccomp_data offset " << offset
                 << " (unaligned or past the end)";
  }
  uint32_t v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(&data) + offset, sizeof v);
  return v;
}

Result<uint32_t> Alu(uint16_t op, uint32_t a, uint32_t operand, size_t pc) {
  switch (op) {
    case BPF_ADD:
      return a + operand;
    case BPF_SUB:
      return a - operand;
    case BPF_MUL:
      return a * operand;
    case BPF_DIV:
      if (operand == 0) return Err() << "bpf: instruction " << pc << " divides by zero";
      return a / operand;
    case BPF_MOD:
      if (operand == 0) return Err() << "bpf: instruction " << pc << " divides by zero";
      return a % operand;
    case BPF_AND:
      return a & operand;
    case BPF_OR:
      return a | operand;
    case BPF_XOR:
      return a ^ operand;
    case BPF_LSH:
      return operand >= 32 ? 0 : a << operand;
    case BPF_RSH:
      return operand >= 32 ? 0 : a >> operand;
    case BPF_NEG:
      return 0u - a;
  }
  return Err() << "bpf: instruction " << pc << " has unknown ALU op 0x" << std::hex << op;
}

}  // namespace

Result<uint32_t> EvaluateSeccomp(const std::vector<sock_filter>& program,
                                 const seccomp_data& data) {
  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  const size_t n = program.size();
  if (n == 0 || n > BPF_MAXINSNS) return Err() << "bpf: program has " << n << " instructions";
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& in = program[pc];
    const uint16_t code = in.code;
    auto jump = [&](uint32_t offset) -> Result<void> {
      if (pc + 1 + offset >= n) {
        return Err() << "bpf: instruction " << pc << " jumps past the end (+" << offset << ")";
      }
      pc += offset;
      return {};
    };
    switch (BPF_CLASS(code)) {
      case BPF_LD:
      case BPF_LDX: {
        uint32_t v;
        if (BPF_MODE(code) == BPF_IMM) {
          v = in.k;
        } else if (BPF_MODE(code) == BPF_MEM) {
          if (in.k >= BPF_MEMWORDS)
            return Err() << "bpf: instruction " << pc << " M[" << in.k << "]";
          v = mem[in.k];
        } else if (BPF_MODE(code) == BPF_LEN) {
          v = sizeof(seccomp_data);
        } else if (BPF_MODE(code) == BPF_ABS && BPF_CLASS(code) == BPF_LD &&
                   BPF_SIZE(code) == BPF_W) {
          auto w = LoadWord(data, in.k, pc);
          if (!w.ok()) return w.error();
          v = *w;
        } else {
          return Err() << "bpf: instruction " << pc << " has unsupported load 0x" << std::hex
                       << code;
        }
        if (BPF_CLASS(code) == BPF_LD) {
          a = v;
        } else {
          x = v;
        }
        break;
      }
      case BPF_ST:
      case BPF_STX:
        if (in.k >= BPF_MEMWORDS) return Err() << "bpf: instruction " << pc << " M[" << in.k << "]";
        mem[in.k] = BPF_CLASS(code) == BPF_ST ? a : x;
        break;
      case BPF_ALU: {
        auto r = Alu(BPF_OP(code), a, BPF_SRC(code) == BPF_X ? x : in.k, pc);
        if (!r.ok()) return r.error();
        a = *r;
        break;
      }
      case BPF_JMP: {
        if (BPF_OP(code) == BPF_JA) {
          INITOS_TRY(jump(in.k));
          break;
        }
        uint32_t operand = BPF_SRC(code) == BPF_X ? x : in.k;
        bool taken;
        switch (BPF_OP(code)) {
          case BPF_JEQ:
            taken = a == operand;
            break;
          case BPF_JGT:
            taken = a > operand;
            break;
          case BPF_JGE:
            taken = a >= operand;
            break;
          case BPF_JSET:
            taken = (a & operand) != 0;
            break;
          default:
            return Err() << "bpf: instruction " << pc << " has unknown jump 0x" << std::hex << code;
        }
        INITOS_TRY(jump(taken ? in.jt : in.jf));
        break;
      }
      case BPF_RET:
        if (BPF_RVAL(code) == BPF_K) return in.k;
        if (BPF_RVAL(code) == BPF_A) return a;
        return Err() << "bpf: instruction " << pc << " has unknown return 0x" << std::hex << code;
      case BPF_MISC:
        if (BPF_MISCOP(code) == BPF_TAX) {
          x = a;
        } else if (BPF_MISCOP(code) == BPF_TXA) {
          a = x;
        } else {
          return Err() << "bpf: instruction " << pc << " has unknown misc op 0x" << std::hex
                       << code;
        }
        break;
      default:
        return Err() << "bpf: instruction " << pc << " has unknown class 0x" << std::hex << code;
    }
  }
  return Err() << "bpf: program ran off its end without a return";
}

}  // namespace jail
}  // namespace initos
