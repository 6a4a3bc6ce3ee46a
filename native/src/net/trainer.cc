// The native trainer (see trainer.h): the epoch loop around the executor.
#include "net/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "net/rng.h"

namespace dsx {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Normalisation as a lookup table per channel: (v/255 - mean) / std for every byte value.
// Padding of the random crop is a raw 0 pixel, as torchvision's RandomCrop before Normalize.
class Batcher {
 public:
  explicit Batcher(const DataView& d) : d_(d), lut_(static_cast<size_t>(d.C) * 256) {
    for (int c = 0; c < d.C; ++c)
      for (int v = 0; v < 256; ++v)
        lut_[c * 256 + v] = static_cast<float>((v / 255.0 - d.mean[c]) / d.std[c]);
  }

  // Sample `idx` into out[C*H*W]: crop offset (oy, ox) in [0, 2*pad], optional flip.
  void sample(int idx, int pad, int oy, int ox, bool flip, float* out) const {
    const int C = d_.C, H = d_.H, W = d_.W;
    const uint8_t* img = d_.images + static_cast<size_t>(idx) * C * H * W;
    for (int c = 0; c < C; ++c) {
      const float* lut = lut_.data() + c * 256;
      const uint8_t* src = img + static_cast<size_t>(c) * H * W;
      float* dst = out + static_cast<size_t>(c) * H * W;
      for (int y = 0; y < H; ++y) {
        const int sy = y + oy - pad;
        float* row = dst + static_cast<size_t>(y) * W;
        if (sy < 0 || sy >= H) {
          std::fill(row, row + W, lut[0]);
          continue;
        }
        const uint8_t* srow = src + static_cast<size_t>(sy) * W;
        const int shift = ox - pad;
        if (!flip && shift == 0) {
          for (int x = 0; x < W; ++x) row[x] = lut[srow[x]];
          continue;
        }
        for (int x = 0; x < W; ++x) {
          const int sx = (flip ? W - 1 - x : x) + shift;
          row[x] = (sx < 0 || sx >= W) ? lut[0] : lut[srow[sx]];
        }
      }
    }
  }

  // Sample `idx` into out[C*H*W]: the crop rows [y0, y0+ch) x cols [x0, x0+cw) resized
  // bilinearly to H x W (half-pixel centres, as torchvision), optional flip.
  void sample_resized(int idx, int y0, int x0, int ch, int cw, bool flip, float* out) const {
    const int C = d_.C, H = d_.H, W = d_.W;
    const uint8_t* img = d_.images + static_cast<size_t>(idx) * C * H * W;
    const double sy = static_cast<double>(ch) / H, sx = static_cast<double>(cw) / W;
    for (int y = 0; y < H; ++y) {
      const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, ch - 1.0);
      const int iy = static_cast<int>(fy), iy1 = std::min(iy + 1, ch - 1);
      const float wy = static_cast<float>(fy - iy);
      for (int x = 0; x < W; ++x) {
        const int xd = flip ? W - 1 - x : x;
        const double fx = std::clamp((xd + 0.5) * sx - 0.5, 0.0, cw - 1.0);
        const int ix = static_cast<int>(fx), ix1 = std::min(ix + 1, cw - 1);
        const float wx = static_cast<float>(fx - ix);
        for (int c = 0; c < C; ++c) {
          const float* lut = lut_.data() + c * 256;
          const uint8_t* src = img + static_cast<size_t>(c) * H * W;
          const uint8_t* r0 = src + static_cast<size_t>(y0 + iy) * W + x0;
          const uint8_t* r1 = src + static_cast<size_t>(y0 + iy1) * W + x0;
          const float top = lut[r0[ix]] + wx * (lut[r0[ix1]] - lut[r0[ix]]);
          const float bot = lut[r1[ix]] + wx * (lut[r1[ix1]] - lut[r1[ix]]);
          out[(static_cast<size_t>(c) * H + y) * W + x] = top + wy * (bot - top);
        }
      }
    }
  }

 private:
  const DataView& d_;
  std::vector<float> lut_;
};

// torchvision's RandomResizedCrop.get_params: ten tries at a crop of the drawn area and
// log-uniform aspect ratio that fits, else the whole image.
void resized_crop_box(Rng& rng, int H, int W, double min_scale, int* y0, int* x0, int* ch, int* cw) {
  const double area = static_cast<double>(H) * W;
  const double lo = std::log(3.0 / 4.0), hi = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (min_scale + (1.0 - min_scale) * rng.uniform());
    const double ratio = std::exp(lo + (hi - lo) * rng.uniform());
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= W && h <= H) {
      *y0 = static_cast<int>(rng.below(static_cast<uint64_t>(H - h) + 1));
      *x0 = static_cast<int>(rng.below(static_cast<uint64_t>(W - w) + 1));
      *ch = h, *cw = w;
      return;
    }
  }
  *y0 = 0, *x0 = 0, *ch = H, *cw = W;
}

void check_data(const NetSpec& spec, const DataView& d, const char* what) {
  if (d.C != spec.input[0] || d.H != spec.input[1] || d.W != spec.input[2])
    throw std::runtime_error(std::string(what) + " images are [" + std::to_string(d.C) + "," +
                             std::to_string(d.H) + "," + std::to_string(d.W) +
                             "] but the model expects [" + std::to_string(spec.input[0]) + "," +
                             std::to_string(spec.input[1]) + "," + std::to_string(spec.input[2]) +
                             "]");
  if (static_cast<int>(d.mean.size()) != d.C || static_cast<int>(d.std.size()) != d.C)
    throw std::runtime_error(std::string(what) + ": mean/std need one value per channel");
  for (int c = 0; c < d.C; ++c)
    if (!(d.std[c] > 0)) throw std::runtime_error(std::string(what) + ": std must be > 0");
  for (int i = 0; i < d.count; ++i)
    if (d.labels[i] >= spec.classes)
      throw std::runtime_error(std::string(what) + ": label " + std::to_string(d.labels[i]) +
                               " at index " + std::to_string(i) + " is not below classes = " +
                               std::to_string(spec.classes));
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

long steps_per_epoch(int count, int batch_size) {
  const long full = count / batch_size, rest = count % batch_size;
  return full + (rest >= 2 ? 1 : 0);
}

double learning_rate(const Recipe& r, long step, long spe) {
  const double total = static_cast<double>(r.epochs) * spe;
  double f = 1.0;
  switch (r.schedule) {
    case Schedule::Constant:
      break;
    case Schedule::Cosine:
      f = 0.5 * (1.0 + std::cos(3.141592653589793 * step / total));
      break;
    case Schedule::Step:
      for (double m : r.milestones)
        if (step >= m * spe) f *= r.gamma;
      break;
  }
  const double warm = r.warmup_epochs * spe;
  if (warm > 0 && step < warm) f *= (step + 1) / warm;
  return r.lr * f;
}

void assemble_plain(const DataView& data, const int* indices, int n, float* out,
                    int32_t* labels) {
  Batcher b(data);
  const size_t chw = static_cast<size_t>(data.C) * data.H * data.W;
  for (int i = 0; i < n; ++i) {
    b.sample(indices[i], 0, 0, 0, false, out + i * chw);
    labels[i] = data.labels[indices[i]];
  }
}

EvalOutcome evaluate_net(Net& net, const DataView& data) {
  check_data(net.plan().spec, data, "evaluation data");
  const double t0 = now_s();
  EvalOutcome r;
  r.count = data.count;
  if (data.count == 0) return r;
  Backend& be = net.backend();
  Batcher batcher(data);
  const int B = net.capacity();
  const size_t chw = static_cast<size_t>(data.C) * data.H * data.W;
  std::vector<float> xb(static_cast<size_t>(B) * chw);
  std::vector<int32_t> yb(B);
  double loss = 0;
  long correct = 0;
  for (int first = 0; first < data.count; first += B) {
    const int n = std::min(B, data.count - first);
    for (int i = 0; i < n; ++i) {
      batcher.sample(first + i, 0, 0, 0, false, xb.data() + i * chw);
      yb[i] = data.labels[first + i];
    }
    be.upload(net.input(), xb.data(), n * chw * sizeof(float));
    be.upload(net.labels(), yb.data(), n * sizeof(int32_t));
    net.forward(n, false);
    double ls = 0;
    int c = 0;
    net.eval_loss(n, &ls, &c);
    loss += ls;
    correct += c;
  }
  r.loss = loss / data.count;
  r.accuracy = static_cast<double>(correct) / data.count;
  r.seconds = now_s() - t0;
  return r;
}

TrainOutcome train_net(const NetSpec& spec, Backend& be, const Recipe& r, const DataView& train,
                       const DataView& test, const TrainOptions& opt,
                       const std::function<void(const Progress&)>& on_progress) {
  const double t_start = now_s();
  if (r.epochs < 1) throw std::runtime_error("epochs must be >= 1");
  if (r.batch_size < 2) throw std::runtime_error("batchSize must be >= 2 (batch norm needs two samples)");
  if (train.count < 2) throw std::runtime_error("the training set needs at least 2 images");
  check_data(spec, train, "training data");
  if (test.count > 0) check_data(spec, test, "test data");

  const int B = std::min(r.batch_size, train.count);
  Net net(spec, be, B);
  net.init(r.seed);

  TrainOutcome out;
  out.device = be.name();
  out.threads = be.threads();
  out.params = net.plan().params;

  Rng rng(r.seed ^ 0xD1B54A32D192ED03ULL);  // data order and augmentation, apart from init
  Batcher batcher(train);
  const size_t chw = static_cast<size_t>(train.C) * train.H * train.W;
  std::vector<float> xb(static_cast<size_t>(B) * chw);
  std::vector<int32_t> yb(B);
  std::vector<int> perm(train.count);
  std::iota(perm.begin(), perm.end(), 0);
  const long spe = steps_per_epoch(train.count, B);
  const int pad = r.crop_padding;

  double train_time = 0, data_time = 0;
  long images = 0, step = 0;
  double last_report = -1;
  bool diverged = false;
  for (int epoch = 1; epoch <= r.epochs && !diverged; ++epoch) {
    const double t_epoch = now_s();
    for (int i = train.count - 1; i > 0; --i)
      std::swap(perm[i], perm[static_cast<int>(rng.below(static_cast<uint64_t>(i) + 1))]);
    double loss_sum = 0;
    long correct = 0, seen = 0;
    EpochMetrics m{epoch, learning_rate(r, step, spe), NAN, NAN, false, NAN, NAN, 0};
    for (long b = 0; b < spe; ++b, ++step) {
      const double t0 = now_s();
      const int first = static_cast<int>(b * B);
      const int n = std::min(B, train.count - first);
      for (int i = 0; i < n; ++i) {
        const int idx = perm[first + i];
        if (r.resized_crop_scale > 0) {
          int y0, x0, ch, cw;
          resized_crop_box(rng, train.H, train.W, r.resized_crop_scale, &y0, &x0, &ch, &cw);
          const bool flip = r.flip && (rng.next() >> 63);
          batcher.sample_resized(idx, y0, x0, ch, cw, flip, xb.data() + i * chw);
          yb[i] = train.labels[idx];
          continue;
        }
        const int oy = pad > 0 ? static_cast<int>(rng.below(2 * pad + 1)) : 0;
        const int ox = pad > 0 ? static_cast<int>(rng.below(2 * pad + 1)) : 0;
        const bool flip = r.flip && (rng.next() >> 63);
        batcher.sample(idx, pad, oy, ox, flip, xb.data() + i * chw);
        yb[i] = train.labels[idx];
      }
      be.upload(net.input(), xb.data(), n * chw * sizeof(float));
      be.upload(net.labels(), yb.data(), n * sizeof(int32_t));
      const double t1 = now_s();
      const double lr = learning_rate(r, step, spe);
      net.forward(n, true);
      double ls = 0;
      int c = 0;
      net.backward(n, &ls, &c);
      if (!std::isfinite(ls)) {
        diverged = true;
        out.status = "diverged";
        out.message = "the training loss became " + std::string(std::isnan(ls) ? "NaN" : "infinite") +
                      " at epoch " + std::to_string(epoch) + ", batch " + std::to_string(b + 1) +
                      " (learning rate " + fmt("%g", lr) +
                      "); lower the learning rate or add warm-up epochs";
        break;
      }
      net.sgd_step(static_cast<float>(lr), static_cast<float>(r.momentum),
                   static_cast<float>(r.weight_decay), r.decay_bn_and_bias, r.nesterov);
      const double t2 = now_s();
      data_time += t1 - t0;
      train_time += t2 - t0;
      loss_sum += ls;
      correct += c;
      seen += n;
      images += n;
      if (on_progress && (t2 - last_report >= 0.25 || b + 1 == spe)) {
        last_report = t2;
        on_progress({epoch, r.epochs, static_cast<int>(b + 1), static_cast<int>(spe),
                     loss_sum / seen, train_time > 0 ? images / train_time : 0, t2 - t_start});
      }
    }
    if (seen > 0) {
      m.train_loss = loss_sum / seen;
      m.train_accuracy = static_cast<double>(correct) / seen;
    }
    if (!diverged && !net.params_finite()) {
      diverged = true;
      out.status = "diverged";
      out.message = "the parameters became NaN or infinite in epoch " + std::to_string(epoch) +
                    "; lower the learning rate or add warm-up epochs";
    }
    if (!diverged && test.count > 0 && (!opt.eval_last_only || epoch == r.epochs)) {
      const EvalOutcome e = evaluate_net(net, test);
      m.evaluated = true;
      m.test_accuracy = e.accuracy;
      m.test_loss = e.loss;
      out.test_accuracy = e.accuracy;
      out.test_loss = e.loss;
    }
    m.seconds = now_s() - t_epoch;
    out.train_loss = m.train_loss;
    out.train_accuracy = m.train_accuracy;
    out.epochs.push_back(m);
  }
  out.seconds = now_s() - t_start;
  out.images_per_second = train_time > 0 ? images / train_time : 0;
  if (opt.keep_state && !diverged) {
    out.state.resize(net.plan().state_size());
    net.get_state(out.state.data());
  }
  if (net.profiling()) {
    net.print_profile(stderr);
    std::fprintf(stderr, "  host batch assembly + upload: %.3f s of %.3f s training\n", data_time,
                 train_time);
  }
  return out;
}

}  // namespace dsx
