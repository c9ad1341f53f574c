// Restricted PyTorch checkpoint reader (see pth_reader.h). The pickle machine below is deliberately small:
// it builds plain values (None, bool, int, float, str, tuple, list, dict) and three kinds of objects the state
// dict needs (ordered dicts, storages from persistent ids, tensors from _rebuild_tensor_v2). There is no way
// for file content to name and call anything else.
#include "pth_reader.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include "core/mapped_file.h"
#include "float_formats.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

constexpr size_t kMaxMemo = 1 << 22, kMaxStack = 1 << 22, kMaxString = 1 << 20;
constexpr uint64_t kMaxTensorElements = uint64_t(1) << 32;  // 16 GiB as fp32: beyond any checkpoint we convert

struct Value;
using VP = std::shared_ptr<Value>;

struct Value {
  enum Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor, Mark } kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s, s2;                        // Str; Global: module, name
  std::vector<VP> items;                    // Tuple, List
  std::vector<std::pair<VP, VP>> entries;   // Dict (insertion order)
  std::string dtype, key;                   // Storage
  int64_t numel = 0;
  PthFile::Tensor tensor;                   // Tensor
};

VP make(Value::Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

// Every container a pickle built, held until the reader is done, then emptied one by one: a hostile pickle can
// nest 100,000 tuples (the recursive destructor would overflow the stack) or make a dict contain itself (a
// shared_ptr cycle would leak). Emptying each container while the arena still holds its children frees
// everything without recursion and breaks every cycle.
struct Arena {
  std::vector<VP> containers;
  ~Arena() {
    for (auto& v : containers) v->items.clear(), v->entries.clear();
  }
};


std::string storage_dtype(const std::string& name) {
  static const std::map<std::string, std::string> m = {
      {"FloatStorage", "F32"}, {"DoubleStorage", "F64"}, {"HalfStorage", "F16"},  {"BFloat16Storage", "BF16"},
      {"LongStorage", "I64"},  {"IntStorage", "I32"},    {"ShortStorage", "I16"}, {"CharStorage", "I8"},
      {"ByteStorage", "U8"},   {"BoolStorage", "BOOL"}};
  auto it = m.find(name);
  return it == m.end() ? "" : it->second;
}

class Unpickler {
 public:
  Unpickler(const std::string& file, const uint8_t* p, size_t n, Arena& arena) : file_(file), p_(p), n_(n), arena_(arena) {}

  // Runs one pickle from the start; returns its value and sets *used to the bytes it took.
  VP run(size_t* used) {
    pos_ = 0;
    stack_.clear(), memo_.clear(), marks_.clear();
    for (;;) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                       // PROTO
        case 0x95: take(8); break;                    // FRAME (length only)
        case '.': {                                   // STOP
          VP v = pop();
          *used = pos_;
          return v;
        }
        case '(': marks_.push_back(stack_.size()); push(make(Value::Mark)); break;
        case '0': pop(); break;
        case '1': pop_mark(); break;
        case 'N': push(make(Value::None)); break;
        case 0x88: case 0x89: { auto v = make(Value::Bool); v->i = op == 0x88; push(v); break; }
        case 'J': { int32_t x; std::memcpy(&x, take(4), 4); push_int(x); break; }
        case 'K': push_int(u8()); break;
        case 'M': { uint16_t x; std::memcpy(&x, take(2), 2); push_int(x); break; }
        case 0x8a: case 0x8b: {                       // LONG1 / LONG4: little-endian two's complement
          uint32_t len = op == 0x8a ? u8() : u32();
          fail_if(len > 8, "integer of " + std::to_string(len) + " bytes");
          const uint8_t* b = take(len);
          uint64_t x = 0;
          for (uint32_t k = 0; k < len; ++k) x |= uint64_t(b[k]) << (8 * k);
          if (len > 0 && len < 8 && (b[len - 1] & 0x80)) x |= ~uint64_t(0) << (8 * len);
          push_int(int64_t(x));
          break;
        }
        case 'G': {                                   // BINFLOAT, big-endian
          const uint8_t* b = take(8);
          uint64_t x = 0;
          for (int k = 0; k < 8; ++k) x = (x << 8) | b[k];
          auto v = make(Value::Float);
          std::memcpy(&v->f, &x, 8);
          push(v);
          break;
        }
        case 'X': push_str(u32()); break;
        case 0x8c: push_str(u8()); break;
        case 0x8d: { uint64_t len; std::memcpy(&len, take(8), 8); push_str(len); break; }
        case 'T': push_str(u32()); break;             // BINSTRING (python 2 str)
        case 'U': push_str(u8()); break;              // SHORT_BINSTRING
        case 'B': push_str(u32()); break;             // BINBYTES
        case 'C': push_str(u8()); break;              // SHORT_BINBYTES
        case '}': push(make(Value::Dict)); break;
        case ']': push(make(Value::List)); break;
        case ')': push(make(Value::Tuple)); break;
        case 't': { auto v = make(Value::Tuple); v->items = pop_mark(); push(v); break; }
        case 'l': { auto v = make(Value::List); v->items = pop_mark(); push(v); break; }
        case 0x85: case 0x86: case 0x87: {
          auto v = make(Value::Tuple);
          const int k = op - 0x84;
          v->items.resize(size_t(k));
          for (int j = k - 1; j >= 0; --j) v->items[size_t(j)] = pop();
          push(v);
          break;
        }
        case 'd': {
          auto items = pop_mark();
          fail_if(items.size() % 2, "DICT with an odd number of items");
          auto v = make(Value::Dict);
          for (size_t j = 0; j < items.size(); j += 2) v->entries.push_back({items[j], items[j + 1]});
          push(v);
          break;
        }
        case 'a': { VP x = pop(); VP l = top(); fail_if(l->kind != Value::List, "APPEND to a non-list"); l->items.push_back(x); break; }
        case 'e': {
          auto items = pop_mark();
          VP l = top();
          fail_if(l->kind != Value::List, "APPENDS to a non-list");
          l->items.insert(l->items.end(), items.begin(), items.end());
          break;
        }
        case 's': {
          VP v = pop(), k = pop(), d = top();
          fail_if(d->kind != Value::Dict, "SETITEM on a non-dict");
          d->entries.push_back({k, v});
          break;
        }
        case 'u': {
          auto items = pop_mark();
          VP d = top();
          fail_if(d->kind != Value::Dict || items.size() % 2, "bad SETITEMS");
          for (size_t j = 0; j < items.size(); j += 2) d->entries.push_back({items[j], items[j + 1]});
          break;
        }
        case 'q': put(u8()); break;
        case 'r': put(u32()); break;
        case 0x94: put(memo_.size()); break;          // MEMOIZE
        case 'h': get(u8()); break;
        case 'j': get(u32()); break;
        case 'c': {                                   // GLOBAL "module\nname\n"
          const std::string mod = line(), name = line();
          push(global(mod, name));
          break;
        }
        case 0x93: {                                  // STACK_GLOBAL
          VP name = pop(), mod = pop();
          fail_if(name->kind != Value::Str || mod->kind != Value::Str, "STACK_GLOBAL without strings");
          push(global(mod->s, name->s));
          break;
        }
        case 'R': { VP args = pop(), fn = pop(); push(reduce(fn, args)); break; }
        case 'b': {                                   // BUILD: only state on dicts/tensors, ignored
          VP state = pop();
          (void)state;
          VP obj = top();
          fail_if(obj->kind != Value::Dict && obj->kind != Value::Tensor, "BUILD on an object that is not a dict or tensor");
          break;
        }
        case 'Q': { VP pid = pop(); push(persistent(pid)); break; }
        default: {
          char b[8];
          std::snprintf(b, sizeof b, "0x%02x", op);
          fail(std::string("unsupported pickle opcode ") + b + " (only state-dict pickles are read)");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::InvalidFile, file_ + ": pickle at byte " + std::to_string(pos_) + ": " + what);
  }
  void fail_if(bool c, const std::string& what) const {
    if (c) fail(what);
  }
  const uint8_t* take(size_t k) {
    fail_if(k > n_ - pos_, "truncated");
    const uint8_t* b = p_ + pos_;
    pos_ += k;
    return b;
  }
  uint8_t u8() { return *take(1); }
  uint32_t u32() {
    uint32_t x;
    std::memcpy(&x, take(4), 4);
    return x;
  }
  std::string line() {
    std::string s;
    for (;;) {
      const char c = char(u8());
      if (c == '\n') return s;
      fail_if(s.size() > 256, "GLOBAL name too long");
      s += c;
    }
  }
  void push(VP v) {
    fail_if(stack_.size() >= kMaxStack, "stack too deep");
    if (v->kind == Value::Tuple || v->kind == Value::List || v->kind == Value::Dict) arena_.containers.push_back(v);
    stack_.push_back(std::move(v));
  }
  void push_int(int64_t x) {
    auto v = make(Value::Int);
    v->i = x;
    push(v);
  }
  void push_str(uint64_t len) {
    fail_if(len > kMaxString, "string of " + std::to_string(len) + " bytes");
    auto v = make(Value::Str);
    const uint8_t* b = take(size_t(len));
    v->s.assign(reinterpret_cast<const char*>(b), size_t(len));
    push(v);
  }
  VP pop() {
    fail_if(stack_.empty() || stack_.back()->kind == Value::Mark, "stack underflow");
    VP v = stack_.back();
    stack_.pop_back();
    return v;
  }
  VP top() {
    fail_if(stack_.empty(), "stack underflow");
    return stack_.back();
  }
  std::vector<VP> pop_mark() {
    fail_if(marks_.empty(), "no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    fail_if(m >= stack_.size(), "broken MARK");
    std::vector<VP> items(stack_.begin() + long(m) + 1, stack_.end());
    stack_.resize(m);
    return items;
  }
  void put(size_t idx) {
    fail_if(idx >= kMaxMemo, "memo index " + std::to_string(idx));
    if (memo_.size() <= idx) memo_.resize(idx + 1);
    memo_[idx] = top();
  }
  void get(size_t idx) {
    fail_if(idx >= memo_.size() || !memo_[idx], "memo index " + std::to_string(idx) + " never stored");
    push(memo_[idx]);
  }
  VP global(const std::string& mod, const std::string& name) {
    const bool ok = (mod == "collections" && name == "OrderedDict") ||
                    (mod == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter")) ||
                    (mod == "torch" && !storage_dtype(name).empty());
    fail_if(!ok, "refusing global " + mod + "." + name + " (a state dict needs only tensors and containers)");
    auto v = make(Value::Global);
    v->s = mod, v->s2 = name;
    return v;
  }
  static int64_t as_int(const VP& v, const char* what, const Unpickler& u) {
    u.fail_if(v->kind != Value::Int && v->kind != Value::Bool, std::string(what) + " is not an integer");
    return v->i;
  }
  std::vector<int64_t> int_tuple(const VP& v, const char* what) {
    fail_if(v->kind != Value::Tuple, std::string(what) + " is not a tuple");
    fail_if(v->items.size() > 8, std::string(what) + " has more than 8 dimensions");
    std::vector<int64_t> r;
    for (const auto& x : v->items) {
      r.push_back(as_int(x, what, *this));
      fail_if(r.back() < 0, std::string(what) + " has a negative entry");
    }
    return r;
  }
  VP reduce(const VP& fn, const VP& args) {
    fail_if(fn->kind != Value::Global, "REDUCE of a non-callable");
    fail_if(args->kind != Value::Tuple, "REDUCE arguments are not a tuple");
    const auto& a = args->items;
    if (fn->s2 == "OrderedDict") {
      fail_if(!a.empty(), "OrderedDict with arguments");
      return make(Value::Dict);
    }
    if (fn->s2 == "_rebuild_parameter") {
      fail_if(a.empty() || a[0]->kind != Value::Tensor, "_rebuild_parameter without a tensor");
      return a[0];
    }
    if (fn->s2 == "_rebuild_tensor_v2") {
      fail_if(a.size() < 4 || a[0]->kind != Value::Storage, "_rebuild_tensor_v2 without (storage, offset, size, stride)");
      auto t = make(Value::Tensor);
      t->tensor.dtype = a[0]->dtype;
      t->tensor.storage_key = a[0]->key;
      t->tensor.storage_offset = as_int(a[1], "storage offset", *this);
      fail_if(t->tensor.storage_offset < 0, "negative storage offset");
      t->tensor.shape = int_tuple(a[2], "size");
      t->tensor.stride = int_tuple(a[3], "stride");
      fail_if(t->tensor.shape.size() != t->tensor.stride.size(), "size and stride of different ranks");
      return t;
    }
    fail("calling " + fn->s + "." + fn->s2 + " is not allowed");
  }
  VP persistent(const VP& pid) {
    fail_if(pid->kind != Value::Tuple || pid->items.size() < 5, "persistent id is not a storage tuple");
    const auto& a = pid->items;
    fail_if(a[0]->kind != Value::Str || a[0]->s != "storage", "persistent id of an unknown kind");
    fail_if(a[1]->kind != Value::Global || a[1]->s != "torch", "storage of an unknown type");
    fail_if(a[2]->kind != Value::Str, "storage key is not a string");
    auto v = make(Value::Storage);
    v->dtype = storage_dtype(a[1]->s2);
    v->key = a[2]->s;
    v->numel = as_int(a[4], "storage size", *this);
    fail_if(v->numel < 0, "negative storage size");
    return v;
  }

  std::string file_;
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  std::vector<VP> stack_, memo_;
  std::vector<size_t> marks_;
  Arena& arena_;
};

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | uint64_t(rd32(p + 4)) << 32; }

struct ZipEntry {
  uint64_t offset = 0, size = 0;  // of the stored data
};

// Central directory of a zip archive whose entries are stored (method 0), as torch.save writes them.
std::map<std::string, ZipEntry> read_zip(const std::string& path, const uint8_t* p, uint64_t n) {
  auto bad = [&](const std::string& what) { RMSMP_FAIL(ErrorCode::InvalidFile, path << ": zip archive: " << what); };
  if (n < 22) bad("too short");
  uint64_t eocd = n - 22;
  const uint64_t lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
  while (rd32(p + eocd) != 0x06054b50) {
    if (eocd == lowest) bad("no end-of-central-directory record");
    --eocd;
  }
  uint64_t count = rd16(p + eocd + 10), cd_size = rd32(p + eocd + 12), cd_off = rd32(p + eocd + 16);
  if (count == 0xFFFF || cd_off == 0xFFFFFFFFu) {  // zip64: locator just before the EOCD
    if (eocd < 20 || rd32(p + eocd - 20) != 0x07064b50) bad("zip64 locator missing");
    const uint64_t z = rd64(p + eocd - 20 + 8);
    if (z > n - 56 || rd32(p + z) != 0x06064b50) bad("zip64 end record out of range");
    count = rd64(p + z + 32), cd_size = rd64(p + z + 40), cd_off = rd64(p + z + 48);
  }
  if (cd_off > n || cd_size > n - cd_off) bad("central directory out of range");
  std::map<std::string, ZipEntry> out;
  uint64_t q = cd_off;
  for (uint64_t e = 0; e < count; ++e) {
    if (q + 46 > cd_off + cd_size || rd32(p + q) != 0x02014b50) bad("broken central directory entry");
    const uint16_t method = rd16(p + q + 10), name_len = rd16(p + q + 28), extra_len = rd16(p + q + 30),
                   comment_len = rd16(p + q + 32);
    uint64_t csize = rd32(p + q + 20), usize = rd32(p + q + 24), lho = rd32(p + q + 42);
    if (q + 46 + name_len + extra_len + comment_len > cd_off + cd_size) bad("central directory entry out of range");
    const std::string name(reinterpret_cast<const char*>(p + q + 46), name_len);
    // zip64 extra field: the 0xFFFFFFFF fields, in order usize, csize, offset.
    for (uint64_t x = q + 46 + name_len; x + 4 <= q + 46 + name_len + extra_len;) {
      const uint16_t id = rd16(p + x), len = rd16(p + x + 2);
      if (x + 4 + len > q + 46 + name_len + extra_len) bad("extra field out of range");
      if (id == 0x0001) {
        uint64_t y = x + 4;
        auto next = [&](uint64_t& f) {
          if (f != 0xFFFFFFFFu) return;
          if (y + 8 > x + 4 + len) bad("short zip64 field");
          f = rd64(p + y), y += 8;
        };
        next(usize), next(csize), next(lho);
      }
      x += 4 + len;
    }
    if (method != 0 || csize != usize) bad("entry " + name + " is compressed (torch.save stores entries uncompressed)");
    if (lho > n - 30 || rd32(p + lho) != 0x04034b50) bad("entry " + name + ": local header out of range");
    const uint64_t data = lho + 30 + rd16(p + lho + 26) + rd16(p + lho + 28);
    if (data > n || usize > n - data) bad("entry " + name + ": data out of range");
    out[name] = {data, usize};
    q += 46 + name_len + extra_len + comment_len;
  }
  return out;
}


}  // namespace

PthFile::~PthFile() = default;
const std::string& PthFile::path() const { return map_->path(); }

PthFile::PthFile(const std::string& path) : map_(std::make_unique<MappedFile>(path)) {
  const uint8_t* p = map_->data();
  const uint64_t n = map_->size();
  Arena arena;  // before root: destroyed after it
  VP root;
  if (n >= 4 && rd32(p) == 0x04034b50) {
    format_ = "zip";
    const auto entries = read_zip(path, p, n);
    std::string prefix;
    for (const auto& [name, e] : entries)
      if (name.size() >= 9 && name.compare(name.size() - 9, 9, "/data.pkl") == 0) {
        RMSMP_CHECK(prefix.empty(), ErrorCode::InvalidFile, path << ": several data.pkl entries");
        prefix = name.substr(0, name.size() - 8);
      }
    RMSMP_CHECK(!prefix.empty(), ErrorCode::InvalidFile, path << ": zip archive without <dir>/data.pkl (not a torch.save file)");
    if (auto bo = entries.find(prefix + "byteorder"); bo != entries.end())
      RMSMP_CHECK(std::string(reinterpret_cast<const char*>(p + bo->second.offset), bo->second.size) == "little",
                  ErrorCode::Unsupported, path << ": big-endian checkpoint");
    const ZipEntry& pk = entries.at(prefix + "data.pkl");
    size_t used = 0;
    root = Unpickler(path, p + pk.offset, pk.size, arena).run(&used);
    for (const auto& [name, e] : entries)
      if (name.rfind(prefix + "data/", 0) == 0) storages_[name.substr(prefix.size() + 5)] = {"", e.offset, e.size};
  } else {
    format_ = "legacy";
    // The first pickle is torch's 80-bit magic number 0x1950a86a20f9469cfc6c as a protocol-2 LONG1.
    static const uint8_t kMagic[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};
    RMSMP_CHECK(n >= sizeof kMagic && std::memcmp(p, kMagic, sizeof kMagic) == 0, ErrorCode::InvalidFile,
                path << ": not a PyTorch checkpoint (neither a zip archive nor the legacy magic number)");
    size_t off = sizeof kMagic, used = 0;
    VP version = Unpickler(path, p + off, n - off, arena).run(&used);
    RMSMP_CHECK(version->kind == Value::Int && version->i == 1001, ErrorCode::Unsupported,
                path << ": legacy protocol version " << version->i << " (1001 expected)");
    off += used;
    VP sys = Unpickler(path, p + off, n - off, arena).run(&used);
    off += used;
    for (const auto& [k, v] : sys->entries)
      if (k->kind == Value::Str && k->s == "little_endian")
        RMSMP_CHECK(v->kind == Value::Bool && v->i, ErrorCode::Unsupported, path << ": big-endian checkpoint");
    root = Unpickler(path, p + off, n - off, arena).run(&used);
    off += used;
    VP keys = Unpickler(path, p + off, n - off, arena).run(&used);
    off += used;
    RMSMP_CHECK(keys->kind == Value::List, ErrorCode::InvalidFile, path << ": storage key list missing");
    for (const auto& k : keys->items) {
      RMSMP_CHECK(k->kind == Value::Str, ErrorCode::InvalidFile, path << ": storage key is not a string");
      RMSMP_CHECK(n - off >= 8, ErrorCode::InvalidFile, path << ": truncated before storage " << k->s);
      const uint64_t count = rd64(p + off);
      off += 8;
      storages_[k->s] = {"", off, 0};
      // The blob's element size comes from the tensors that use this storage (the pickle names its type).
      size_t esz = 0;
      // As deep as the flattening below reads (8 dicts): a dict that contains itself ends there.
      std::function<void(const VP&, int)> find = [&](const VP& v, int depth) {
        if (esz || depth > 8) return;
        if (v->kind == Value::Tensor && v->tensor.storage_key == k->s) esz = dtype_name_size(v->tensor.dtype);
        for (const auto& [kk, x] : v->entries) find(x, depth + 1);
      };
      find(root, 0);
      RMSMP_CHECK(esz > 0, ErrorCode::InvalidFile, path << ": storage " << k->s << " is used by no tensor");
      RMSMP_CHECK(count <= (n - off) / esz, ErrorCode::InvalidFile,
                  path << ": storage " << k->s << " (" << count << " elements) runs past the end of the file");
      storages_[k->s].bytes = count * esz;
      off += count * esz;
    }
  }
  // Flatten the state dict: nested dicts give dotted names; non-tensor entries (epoch, config) are skipped.
  RMSMP_CHECK(root->kind == Value::Dict, ErrorCode::InvalidFile, path << ": the checkpoint is not a dict of tensors");
  std::function<void(const VP&, const std::string&, int)> walk = [&](const VP& d, const std::string& pre, int depth) {
    RMSMP_CHECK(depth < 8, ErrorCode::InvalidFile, path << ": dicts nested too deeply");
    for (const auto& [k, v] : d->entries) {
      if (k->kind != Value::Str) continue;
      const std::string name = pre + k->s;
      if (v->kind == Value::Tensor) {
        RMSMP_CHECK(!tensors_.count(name), ErrorCode::InvalidFile, path << ": tensor " << name << " appears twice");
        tensors_[name] = v->tensor;
        names_.push_back(name);
      } else if (v->kind == Value::Dict) {
        walk(v, name + ".", depth + 1);
      }
    }
  };
  walk(root, "", 0);
  // Every tensor's extent must lie inside its storage.
  for (const auto& name : names_) {
    Tensor& t = tensors_[name];
    auto it = storages_.find(t.storage_key);
    RMSMP_CHECK(it != storages_.end(), ErrorCode::InvalidFile, path << ": tensor " << name << ": storage " << t.storage_key << " missing");
    const size_t esz = dtype_name_size(t.dtype);
    RMSMP_CHECK(esz > 0, ErrorCode::Unsupported, path << ": tensor " << name << ": unsupported storage type");
    if (it->second.dtype.empty()) it->second.dtype = t.dtype;
    RMSMP_CHECK(it->second.dtype == t.dtype, ErrorCode::InvalidFile, path << ": storage " << t.storage_key << " used with two dtypes");
    RMSMP_CHECK(it->second.bytes % esz == 0, ErrorCode::InvalidFile, path << ": storage " << t.storage_key << " has a partial element");
    uint64_t last = uint64_t(t.storage_offset), numel = 1;
    bool empty = false, overflow = false;
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] == 0) empty = true;
      RMSMP_CHECK(t.shape[d] < (int64_t(1) << 40) && t.stride[d] < (int64_t(1) << 40), ErrorCode::InvalidFile,
                  path << ": tensor " << name << ": absurd size or stride");
      uint64_t reach = 0;
      if (t.shape[d] > 0) overflow |= __builtin_mul_overflow(uint64_t(t.shape[d] - 1), uint64_t(t.stride[d]), &reach);
      overflow |= __builtin_add_overflow(last, reach, &last);
      overflow |= __builtin_mul_overflow(numel, uint64_t(t.shape[d]), &numel);
    }
    // Zero strides let a tiny storage claim a huge tensor ([1, 3, 2^39, 2^39] over one float): the element count,
    // which sizes every buffer built from it, is capped as well as the extent.
    RMSMP_CHECK(!overflow && numel <= kMaxTensorElements, ErrorCode::InvalidFile,
                path << ": tensor " << name << " claims " << (overflow ? std::string("more than 2^64")
                                                                        : std::to_string(numel))
                     << " elements (at most " << kMaxTensorElements << " are read)");
    RMSMP_CHECK(empty || last < it->second.bytes / esz, ErrorCode::InvalidFile,
                path << ": tensor " << name << " reaches element " << last << " of storage " << t.storage_key << " ("
                     << it->second.bytes / esz << " elements)");
  }
}

const PthFile::Tensor& PthFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  RMSMP_CHECK(it != tensors_.end(), ErrorCode::InvalidFile, path() << ": no tensor '" << name << "'");
  return it->second;
}

std::vector<float> PthFile::read_f32(const std::string& name) const {
  const Tensor& t = tensor(name);
  const Storage& s = storages_.at(t.storage_key);
  RMSMP_CHECK(t.dtype == "F32" || t.dtype == "F64" || t.dtype == "F16" || t.dtype == "BF16", ErrorCode::InvalidFile,
              path() << ": tensor " << name << " is " << t.dtype << ", not floating point");
  int64_t total = 1;
  for (int64_t d : t.shape) total *= d;
  std::vector<float> out(static_cast<size_t>(total));
  const uint8_t* base = map_->data() + s.offset;
  const size_t esz = dtype_name_size(t.dtype);
  std::vector<int64_t> idx(t.shape.size(), 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t e = t.storage_offset;
    for (size_t d = 0; d < idx.size(); ++d) e += idx[d] * t.stride[d];
    const uint8_t* q = base + size_t(e) * esz;
    float v;
    if (t.dtype == "F32") std::memcpy(&v, q, 4);
    else if (t.dtype == "F64") { double x; std::memcpy(&x, q, 8); v = float(x); }
    else if (t.dtype == "F16") { uint16_t h; std::memcpy(&h, q, 2); v = half_to_float(h); }
    else { uint16_t h; std::memcpy(&h, q, 2); v = bf16_to_float(h); }
    RMSMP_CHECK(std::isfinite(v), ErrorCode::InvalidFile, path() << ": tensor " << name << " has a NaN or Inf at element " << i);
    out[size_t(i)] = v;
    for (size_t d = idx.size(); d-- > 0;) {  // row-major increment
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace rmsmp
