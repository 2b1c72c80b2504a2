// Runs a library exported by nnvm_bridge (CompiledModel.export_library) with TVM's runtime alone:
// no Python, no nnvm_bridge. Inputs and outputs are .npy files.
//
//   deploy_model MODEL.so OUT_DIR INPUT.npy... [--repeat N]
//
// Inputs are given in the source model's input order (MODEL.so.meta.json lists it); output i is written
// to OUT_DIR/output<i>.npy. With --repeat N, the median latency of N more runs is printed.
// Only CPU (llvm) libraries; see docs/deploy.md.
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/extra/json.h>
#include <tvm/ffi/extra/module.h>
#include <tvm/ffi/function.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ffi = tvm::ffi;

namespace {

// ---- host tensors ----------------------------------------------------------------------------------
struct HostAlloc {  // 64-byte aligned, as TVM's own CPU allocator (its kernels may use aligned loads)
  void AllocData(DLTensor* t) {
    size_t bytes = (std::max<size_t>(ffi::GetDataSize(*t), 1) + 63) / 64 * 64;
    t->data = std::aligned_alloc(64, bytes);
    if (t->data == nullptr) throw std::runtime_error("out of memory");
  }
  void FreeData(DLTensor* t) { std::free(t->data); }
};

struct NpyType {
  const char* descr;  // little-endian numpy type string
  DLDataType dtype;
};
const NpyType kNpyTypes[] = {
    {"<f4", {kDLFloat, 32, 1}}, {"<f8", {kDLFloat, 64, 1}}, {"<f2", {kDLFloat, 16, 1}},
    {"<i8", {kDLInt, 64, 1}},   {"<i4", {kDLInt, 32, 1}},   {"<i2", {kDLInt, 16, 1}},
    {"|i1", {kDLInt, 8, 1}},    {"|u1", {kDLUInt, 8, 1}},   {"<u2", {kDLUInt, 16, 1}},
    {"<u4", {kDLUInt, 32, 1}},  {"<u8", {kDLUInt, 64, 1}},  {"|b1", {kDLBool, 8, 1}},
};

std::string HeaderValue(const std::string& header, const std::string& key, const std::string& path) {
  size_t at = header.find("'" + key + "':");
  if (at == std::string::npos) throw std::runtime_error(path + ": no '" + key + "' in the .npy header");
  at = header.find_first_not_of(' ', at + key.size() + 3);
  char close = header[at] == '(' ? ')' : header[at] == '\'' ? '\'' : ',';
  size_t end = header.find(close, at + 1);
  return header.substr(at, end - at + (close == ',' ? 0 : 1));
}

ffi::Tensor ReadNpy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw std::runtime_error(path + ": not a .npy file");
  uint32_t header_len = 0;
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  f.read(reinterpret_cast<char*>(len_bytes), magic[6] == 1 ? 2 : 4);
  for (int i = 3; i >= 0; --i) header_len = header_len << 8 | len_bytes[i];
  std::string header(header_len, '\0');
  f.read(&header[0], header_len);

  std::string descr = HeaderValue(header, "descr", path);
  descr = descr.substr(1, descr.size() - 2);
  if (HeaderValue(header, "fortran_order", path) != "False")
    throw std::runtime_error(path + ": Fortran-ordered arrays are not supported (save a C-contiguous array)");
  const NpyType* type = nullptr;
  for (const NpyType& t : kNpyTypes)
    if (descr == t.descr) type = &t;
  if (type == nullptr) throw std::runtime_error(path + ": unsupported dtype " + descr);
  std::vector<int64_t> shape;
  std::stringstream dims(HeaderValue(header, "shape", path).substr(1));
  for (int64_t d; dims >> d; dims.ignore(1)) shape.push_back(d);

  ffi::Tensor t = ffi::Tensor::FromNDAlloc(HostAlloc(), ffi::Shape(shape), type->dtype, DLDevice{kDLCPU, 0});
  size_t bytes = ffi::GetDataSize(*t.GetDLTensorPtr());
  if (!f.read(static_cast<char*>(t.data_ptr()), bytes)) throw std::runtime_error(path + ": truncated data");
  return t;
}

void WriteNpy(const std::string& path, const ffi::Tensor& t) {
  const DLTensor* dl = t.GetDLTensorPtr();
  if (dl->device.device_type != kDLCPU || !t.IsContiguous())
    throw std::runtime_error("output is not a contiguous host tensor");
  const char* descr = nullptr;
  for (const NpyType& n : kNpyTypes)
    if (n.dtype == dl->dtype) descr = n.descr;
  if (descr == nullptr) throw std::runtime_error("no .npy type for " + std::string(ffi::DLDataTypeToString(dl->dtype)));
  std::string shape;  // numpy's tuple syntax: "()", "(3,)", "(2, 4)"
  for (int i = 0; i < dl->ndim; ++i)
    shape += std::to_string(dl->shape[i]) + (dl->ndim == 1 ? "," : i + 1 < dl->ndim ? ", " : "");
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" + shape +
                       "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // magic + length + header + '\n' is a multiple of 64
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  uint16_t len = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
  f << header;
  f.write(static_cast<const char*>(dl->data) + dl->byte_offset, ffi::GetDataSize(*dl));
  if (!f) throw std::runtime_error(path + ": could not write");
}

// ---- the model -------------------------------------------------------------------------------------
// The library's input names from MODEL.so.meta.json (written by export_library); empty if it is absent.
std::vector<std::string> InputNames(const std::string& lib_path) {
  std::ifstream f(lib_path + ".meta.json");
  if (!f) return {};
  std::stringstream text;
  text << f.rdbuf();
  std::vector<std::string> names;
  auto meta = ffi::json::Parse(text.str()).cast<ffi::json::Object>();
  for (const ffi::Any& entry : meta["inputs"].cast<ffi::json::Array>())
    names.push_back(entry.cast<ffi::json::Array>()[0].cast<ffi::String>());
  return names;
}

// Outputs come back as one tensor or a (nested) tuple of them, flattened in order as CompiledModel.run does.
void Flatten(const ffi::Any& value, std::vector<ffi::Tensor>* out) {
  if (auto t = value.as<ffi::Tensor>()) {
    out->push_back(*t);
  } else if (auto items = value.as<ffi::Array<ffi::Any>>()) {
    for (const ffi::Any& item : *items) Flatten(item, out);
  } else {
    throw std::runtime_error("unexpected output type " + value.GetTypeKey());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int repeat = 0;
  auto flag = std::find(args.begin(), args.end(), "--repeat");
  if (flag != args.end() && flag + 1 != args.end()) {
    repeat = std::atoi((flag + 1)->c_str());
    args.erase(flag, flag + 2);
  }
  if (args.size() < 2) {
    std::cerr << "usage: " << argv[0] << " MODEL.so OUT_DIR INPUT.npy... [--repeat N]\n";
    return 2;
  }
  try {
    const std::string lib_path = args[0], out_dir = args[1];
    std::vector<std::string> names = InputNames(lib_path);
    if (!names.empty() && names.size() != args.size() - 2) {
      std::cerr << lib_path << " takes " << names.size() << " inputs, in this order:";
      for (const std::string& n : names) std::cerr << " " << n;
      std::cerr << "; got " << args.size() - 2 << " files\n";
      return 2;
    }
    std::vector<ffi::Tensor> inputs;
    for (size_t i = 2; i < args.size(); ++i) inputs.push_back(ReadNpy(args[i]));

    // What tvm.relax.VirtualMachine(lib, tvm.cpu()) does: the library holds the VM executable (with the
    // weights bound as constants); load it and set up the CPU with the pooled allocator (kind 2).
    // an absolute path: dlopen looks up a bare file name in the library search path, not here
    ffi::Module lib = ffi::Module::LoadFromFile(std::filesystem::absolute(lib_path).string());
    ffi::Module vm = lib->GetFunction("vm_load_executable").value()().cast<ffi::Module>();
    vm->GetFunction("vm_initialization").value()(static_cast<int>(kDLCPU), 0, 2);
    ffi::Function main_fn = vm->GetFunction("main").value();

    std::vector<ffi::AnyView> call_args(inputs.begin(), inputs.end());
    ffi::Any result;
    main_fn.CallPacked(call_args.data(), static_cast<int32_t>(call_args.size()), &result);
    std::vector<ffi::Tensor> outputs;
    Flatten(result, &outputs);
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string path = out_dir + "/output" + std::to_string(i) + ".npy";
      WriteNpy(path, outputs[i]);
      std::cout << "output " << i << ": " << outputs[i].shape() << " "
                << outputs[i].dtype() << " -> " << path << "\n";
    }
    if (repeat > 0) {
      std::vector<double> ms;
      for (int r = 0; r < repeat; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        main_fn.CallPacked(call_args.data(), static_cast<int32_t>(call_args.size()), &result);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      std::cout << "median " << ms[ms.size() / 2] << " ms over " << repeat << " runs\n";
    }
  } catch (const ffi::Error& e) {
    std::cerr << "TVM error: " << e.kind() << ": " << e.message() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
