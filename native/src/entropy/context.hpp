// Context modelling for the entropy coder: the chunk is cut into blocks of whole rows and every block is coded
// under one of K models (its "scale class"). Classes are fitted by the encoder (a few Lloyd rounds that move
// each block to the model that codes it cheapest) and sent as a small rANS-coded stream, so the decoder
// needs no state beyond the chunk. Stacks of matrices with different scales gain several percent; i.i.d.
// tensors gain nothing and skip this (decided on a cheap estimate first).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rans.hpp"

namespace sp::entropy {

constexpr uint32_t kMaxClasses = 8;

struct BlockContexts {
  uint32_t blockSize = 0;
  std::vector<uint8_t> cls;  // one class per block
  std::vector<Model> models;  // K models over the same alphabet and scaleBits
};

// Block size for rows of length R: whole rows, at least 64 elements, at most 8192.
uint32_t contextBlockSize(uint64_t rowLength);

// Fits block classes for symbols sym[0..n) over alphabet A. Returns true (and fills bc) when the estimated
// coded size including side information beats singleBits (the one-model size) by a useful margin.
bool fitBlockContexts(const uint16_t* sym, size_t n, uint32_t A, uint32_t blockSize, uint32_t scaleBits,
                      double singleBits, BlockContexts& bc);

}  // namespace sp::entropy
