// Buffers of one arena reused along a schedule: the training executor's gradient arena
// (Net::plan_gradients) and the CPU deployment executor's activation arena
// (CpuInference::plan_arena) both hand a tensor the smallest freed block that holds it (best
// fit, no splitting) or else a new block at the arena's end, and take blocks back once
// their tensor is dead. Offsets and sizes are in floats.
#pragma once
#include <cstddef>
#include <vector>

namespace dsx {

class ArenaBlocks {
 public:
  struct Block {
    size_t off, size;
  };
  // A block of at least `need` floats: a freed one when `reuse` allows, else a new one
  // rounded up to a multiple of `round`, plus `skew` floats.
  Block take(size_t need, bool reuse = true, size_t round = 1, size_t skew = 0) {
    size_t best = free_.size();
    for (size_t b = 0; b < free_.size() && reuse; ++b)
      if (free_[b].size >= need && (best == free_.size() || free_[b].size < free_[best].size)) best = b;
    if (best < free_.size()) {
      const Block blk = free_[best];
      free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
      return blk;
    }
    const Block blk{total_, (need + round - 1) / round * round + skew};
    total_ += blk.size;
    return blk;
  }
  void give(Block b) { free_.push_back(b); }
  // floats the arena needs
  size_t total() const { return total_; }

 private:
  std::vector<Block> free_;
  size_t total_ = 0;
};

}  // namespace dsx
