// Reads the plain-text model specs of native/test/nets (written from the TypeScript model
// builders by nets/parity-nets.ts) into a NetSpec, for C++ checks that build whole networks
// without Node.
#pragma once
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "net/spec.h"

namespace dsx_test {

inline dsx::NetSpec read_spec_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  auto bad = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
  std::string word;
  int version = 0;
  in >> word >> version;
  if (word != "dsx-spec" || version != 1) throw bad("not a dsx-spec 1 file");
  dsx::NetSpec s;
  size_t count = 0;
  in >> word >> s.model >> word >> s.input[0] >> s.input[1] >> s.input[2] >> word >> s.classes;
  in >> word >> count;
  s.tensors.resize(count);
  for (auto& t : s.tensors) in >> t[0] >> t[1] >> t[2];
  in >> word >> count;
  for (size_t i = 0; i < count && in; ++i) {
    dsx::LayerSpec l;
    std::string op;
    int n_in = 0, bias = 0;
    in >> op >> l.name >> l.output >> n_in;
    l.inputs.resize(n_in);
    for (int& t : l.inputs) in >> t;
    in >> l.in_channels >> l.out_channels >> l.kernel >> l.stride >> l.padding >> l.groups >> bias >>
        l.channel_stride >> l.channels >> l.in_features >> l.out_features >> l.pad_front;
    l.bias = bias != 0;
    static const std::pair<const char*, dsx::LayerOp> ops[] = {
        {"conv2d", dsx::LayerOp::Conv2d}, {"scc", dsx::LayerOp::Scc},
        {"batchnorm", dsx::LayerOp::BatchNorm}, {"relu", dsx::LayerOp::Relu},
        {"maxpool", dsx::LayerOp::MaxPool}, {"gap", dsx::LayerOp::Gap},
        {"linear", dsx::LayerOp::Linear}, {"shuffle", dsx::LayerOp::Shuffle},
        {"add", dsx::LayerOp::Add}, {"shortcut_a", dsx::LayerOp::ShortcutA}};
    bool known = false;
    for (const auto& [name, value] : ops)
      if (op == name) {
        l.op = value;
        known = true;
      }
    if (!known) throw bad("unknown op '" + op + "'");
    s.layers.push_back(std::move(l));
  }
  if (!in || s.layers.size() != count) throw bad("truncated");
  return s;
}

}  // namespace dsx_test
