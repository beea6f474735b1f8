#include "format/boot_slots.h"

#include <openssl/evp.h>

#include <cstring>
#include <sstream>

namespace initos {
inline namespace format {

namespace {

constexpr std::string_view kMagic = "INITOSAB";
constexpr uint32_t kFormat = 1;
constexpr size_t kDigestOffset = kBootStateCopySize - 32;
// A bound on trial boots: a record claiming more is not ours.
constexpr uint32_t kMaxTries = 1000;

void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLe(std::string_view in, size_t& pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[pos + i])) << (8 * i);
  pos += bytes;
  return v;
}

std::string Digest(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

BootState Bumped(BootState s) {
  ++s.sequence;
  return s;
}

}  // namespace

std::string_view SlotName(Slot s) {
  return s == Slot::kA ? "a" : "b";
}

std::optional<Slot> ParseSlotName(std::string_view name) {
  if (name == "a") return Slot::kA;
  if (name == "b") return Slot::kB;
  return std::nullopt;
}

std::string EncodeBootState(const BootState& s) {
  std::string out(kMagic);
  PutLe(out, kFormat, 4);
  PutLe(out, s.sequence, 8);
  PutLe(out, static_cast<uint8_t>(s.primary), 1);
  for (const SlotState& slot : s.slots) {
    PutLe(out, slot.version, 8);
    PutLe(out, slot.good ? 1 : 0, 1);
    PutLe(out, slot.tries_left, 4);
  }
  PutLe(out, s.highest_good_version, 8);
  out.resize(kDigestOffset, '\0');
  out += Digest(out);
  return out;
}

Result<BootState> DecodeBootState(std::string_view copy) {
  if (copy.size() != kBootStateCopySize)
    return Err() << "is " << copy.size() << " bytes, not " << kBootStateCopySize;
  if (copy.substr(0, kMagic.size()) != kMagic) return Err() << "has no record (wrong magic)";
  if (Digest(copy.substr(0, kDigestOffset)) != copy.substr(kDigestOffset))
    return Err() << "is torn or overwritten (checksum mismatch)";
  size_t pos = kMagic.size();
  if (uint64_t f = GetLe(copy, pos, 4); f != kFormat)
    return Err() << "has format " << f << ", this initos reads " << kFormat;
  BootState s;
  s.sequence = GetLe(copy, pos, 8);
  uint64_t primary = GetLe(copy, pos, 1);
  if (primary > 1) return Err() << "names slot " << primary << " as primary";
  s.primary = static_cast<Slot>(primary);
  for (SlotState& slot : s.slots) {
    slot.version = GetLe(copy, pos, 8);
    uint64_t good = GetLe(copy, pos, 1);
    slot.tries_left = static_cast<uint32_t>(GetLe(copy, pos, 4));
    if (good > 1 || slot.tries_left > kMaxTries) return Err() << "has a slot out of range";
    slot.good = good == 1;
  }
  s.highest_good_version = GetLe(copy, pos, 8);
  for (size_t i = pos; i < kDigestOffset; ++i)
    if (copy[i] != '\0') return Err() << "has non-zero padding";
  return s;
}

Result<LoadedBootState> PickBootState(std::string_view copy0, std::string_view copy1) {
  auto a = DecodeBootState(copy0), b = DecodeBootState(copy1);
  if (!a.ok() && !b.ok())
    return Err() << "boot state: copy 1 " << a.error().str() << ", copy 2 " << b.error().str();
  LoadedBootState l;
  if (a.ok() && (!b.ok() || a->sequence >= b->sequence)) {
    l.state = *a;
    l.copy = 0;
    if (!b.ok()) l.note = "copy 2 " + b.error().str() + "; using copy 1";
  } else {
    l.state = *b;
    l.copy = 1;
    if (!a.ok()) l.note = "copy 1 " + a.error().str() + "; using copy 2";
  }
  return l;
}

BootDecision ChooseBootSlot(const BootState& s) {
  BootDecision d;
  d.next = s;
  Slot p = s.primary, o = OtherSlot(p);
  auto trial = [&](Slot slot, std::string why) {
    d.slot = slot;
    d.trial = true;
    d.next.primary = slot;
    --d.next.at(slot).tries_left;
    d.changed = true;
    d.why = why + "; " + std::to_string(d.next.at(slot).tries_left) + " tries left after this one";
  };
  if (s.at(p).good) {
    d.slot = p;
    d.why = "slot " + std::string(SlotName(p)) + " (version " + std::to_string(s.at(p).version) +
            ") is good";
  } else if (s.at(p).tries_left > 0) {
    trial(p, "slot " + std::string(SlotName(p)) + " (version " + std::to_string(s.at(p).version) +
                 ") is on trial");
  } else if (s.at(o).good) {
    d.slot = o;
    d.next.primary = o;
    d.changed = true;
    d.why = "slot " + std::string(SlotName(p)) + " (version " + std::to_string(s.at(p).version) +
            ") never reported healthy and has no tries left; falling back to slot " +
            std::string(SlotName(o)) + " (version " + std::to_string(s.at(o).version) + ")";
  } else if (s.at(o).tries_left > 0) {
    trial(o, "slot " + std::string(SlotName(p)) + " has no tries left; slot " +
                 std::string(SlotName(o)) + " is on trial");
  } else {
    // Nothing healthy: still boot (the image is verified as always) rather
    // than brick the machine; the primary is the newest choice made.
    d.slot = p;
    d.why = "no slot is good and none has tries left; booting slot " + std::string(SlotName(p)) +
            " anyway (it is still verified)";
  }
  if (d.changed) d.next = Bumped(d.next);
  return d;
}

Result<BootState> MarkNext(BootState s, Slot slot, uint64_t version, uint32_t tries) {
  if (tries == 0 || tries > kMaxTries)
    return Err() << "tries " << tries << " is out of range (1.." << kMaxTries << ")";
  if (version == 0) return Err() << "version 0 is not a bundle version";
  s.at(slot) = SlotState{version, false, tries};
  s.primary = slot;
  return Bumped(s);
}

Result<BootState> MarkGood(BootState s, Slot booted) {
  SlotState& b = s.at(booted);
  if (b.version == 0) return Err() << "slot " << SlotName(booted) << " holds no bundle";
  b.good = true;
  b.tries_left = 0;
  s.primary = booted;
  s.highest_good_version = std::max(s.highest_good_version, b.version);
  return Bumped(s);
}

Result<BootState> MarkBad(BootState s, Slot slot) {
  s.at(slot).good = false;
  s.at(slot).tries_left = 0;
  if (s.primary == slot) s.primary = OtherSlot(slot);
  return Bumped(s);
}

Result<BootState> Rollback(BootState s, Slot booted) {
  Slot o = OtherSlot(booted);
  if (!s.at(o).good)
    return Err() << "slot " << SlotName(o)
                 << " holds no image marked good; nothing to roll back to";
  if (s.at(o).version < s.highest_good_version)
    return Err() << "slot " << SlotName(o) << " holds version " << s.at(o).version
                 << ", below the floor " << s.highest_good_version << "; PID 1 would refuse it";
  s.primary = o;
  return Bumped(s);
}

std::string DescribeBootState(const BootState& s, std::optional<Slot> booted) {
  std::ostringstream out;
  for (Slot slot : {Slot::kA, Slot::kB}) {
    const SlotState& st = s.at(slot);
    out << "slot " << SlotName(slot) << ": ";
    if (st.version == 0)
      out << "empty";
    else
      out << "version " << st.version << ", "
          << (st.good ? "good" : "not good, " + std::to_string(st.tries_left) + " tries left");
    if (slot == s.primary) out << ", primary";
    if (booted && *booted == slot) out << ", booted";
    out << "\n";
  }
  out << "floor: " << s.highest_good_version << "\n";
  return out.str();
}

}  // namespace format
}  // namespace initos
