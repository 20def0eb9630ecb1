#include "synthetic_walker/synthetic_walker.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numbers>
#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace dancer::analysis {
namespace {

// Body proportions in body heights (standing height = 1).
constexpr double kAnkleHeight = 0.04;
constexpr double kThigh = 0.245;
constexpr double kShank = 0.24;
constexpr double kTorso = 0.29;
constexpr double kNeckToHeadCentre = 0.10;
constexpr double kHeadRadius = 0.065;
constexpr double kHeelBehindAnkle = 0.035;
constexpr double kToeAheadOfAnkle = 0.11;
constexpr double kStanceFraction = 0.60;  // of the stride; double support = 10% each side
constexpr double kSwingLift = 0.05;
constexpr double kMaxHipHeight = kAnkleHeight + 0.995 * (kThigh + kShank);
constexpr double kStandingHeight = kMaxHipHeight + kTorso + kNeckToHeadCentre + kHeadRadius;

struct PipeCloser {
  void operator()(FILE* f) const { pclose(f); }
};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Point {
  double x;
  double y;  // up from the ground, body heights
};

// Ankle position (in the walking direction, body heights) of a leg whose heel strikes happen
// at `first_strike + k * stride`, at time t, and whether it is on the ground.
Point ankle_at(double t, double first_strike, double step_time, double speed, double x0) {
  const double stride = 2 * step_time;
  const double k = std::floor((t - first_strike) / stride);
  const double strike = first_strike + k * stride;
  const double since = t - strike;
  const double step_length = speed * step_time;
  // The foot lands half a step ahead of the pelvis, so double support is symmetric.
  const double landed_x = x0 + speed * strike + 0.5 * step_length;
  const double stance = kStanceFraction * stride;
  if (since < stance) return {landed_x, kAnkleHeight};
  const double u = (since - stance) / (stride - stance);
  const double ease = (1 - std::cos(std::numbers::pi * u)) / 2;
  return {landed_x + 2 * step_length * ease,
          kAnkleHeight + kSwingLift * std::sin(std::numbers::pi * u)};
}

Point knee_for(Point hip, Point ankle) {
  const double dx = ankle.x - hip.x;
  const double dy = ankle.y - hip.y;
  const double d = std::min(std::hypot(dx, dy), kThigh + kShank - 1e-6);
  const double cos_a = (kThigh * kThigh + d * d - kShank * kShank) / (2 * kThigh * d);
  const double a = std::acos(std::clamp(cos_a, -1.0, 1.0));
  const double base = std::atan2(dy, dx);  // pointing down (about -pi/2)
  const double thigh_angle = base + a;     // bend the knee forward (+x)
  return {hip.x + kThigh * std::cos(thigh_angle), hip.y + kThigh * std::sin(thigh_angle)};
}

}  // namespace

SyntheticWalkTruth render_synthetic_walk(const SyntheticWalkSpec& spec,
                                         const std::filesystem::path& output) {
  const double body_px = spec.body_height_fraction * spec.height;
  const double step_time = 60.0 / spec.cadence_steps_per_min;
  const double speed = spec.step_length_body_heights / step_time;  // body heights per s
  const double view_width_bh = spec.width / body_px;
  double duration = spec.duration_s;
  if (duration <= 0) duration = std::min(8.0, (view_width_bh - 0.5) / speed);
  const int frame_count = static_cast<int>(std::lround(duration * spec.fps));
  duration = frame_count / spec.fps;
  // Pelvis path centred on the view: in at one side, out at the other.
  const double x0 = view_width_bh / 2 - speed * duration / 2;
  const double first_strike = 0.37 * step_time;  // a strike time that is not on frame 0

  SyntheticWalkTruth truth;
  truth.cadence_steps_per_min = spec.cadence_steps_per_min;
  truth.speed_body_heights_per_s = speed;
  truth.step_length_body_heights = spec.step_length_body_heights;
  truth.body_height_px = body_px * kStandingHeight;
  truth.duration_s = duration;
  truth.walking_direction = spec.left_to_right ? "left_to_right" : "right_to_left";
  if (spec.with_walker) {
    for (int k = 0;; ++k) {
      const double t = first_strike - step_time + k * step_time;
      if (t >= duration) break;
      if (t < 0) continue;
      truth.heel_strike_times_s.push_back(t);
      truth.heel_strike_sides.push_back(k % 2 == 1 ? "right" : "left");
    }
  }

  cv::RNG rng(spec.seed);
  cv::Mat background(spec.height, spec.width, CV_8UC1, cv::Scalar(spec.background_gray));
  if (spec.textured_background) {
    cv::Mat coarse(std::max(4, spec.height / 24), std::max(4, spec.width / 24), CV_8UC1);
    rng.fill(coarse, cv::RNG::UNIFORM, spec.background_gray - 60, spec.background_gray + 50);
    cv::resize(coarse, background, background.size(), 0, 0, cv::INTER_CUBIC);
    for (int x = 0; x < spec.width; x += std::max(8, spec.width / 20)) {
      cv::line(background, {x, 0}, {x, spec.height - 1}, cv::Scalar(spec.background_gray - 70), 2);
    }
  }

  const std::string command =
      "ffmpeg -nostdin -hide_banner -loglevel error -y -f rawvideo "
      "-pix_fmt gray -s " +
      std::to_string(spec.width) + "x" + std::to_string(spec.height) + " -r " +
      std::to_string(spec.fps) + " -i - -c:v libx264 -preset veryfast -crf " +
      std::to_string(spec.crf) + " -pix_fmt yuv420p " + quote(output.string());
  std::unique_ptr<FILE, PipeCloser> pipe(popen(command.c_str(), "w"));
  if (!pipe) throw std::runtime_error("cannot start ffmpeg");

  const double ground_y = spec.height * (0.5 + spec.body_height_fraction / 2);
  const auto to_px = [&](Point p) {
    const double x = spec.left_to_right ? p.x : view_width_bh - p.x;
    return cv::Point(static_cast<int>(std::lround(x * body_px * 16)),
                     static_cast<int>(std::lround((ground_y - p.y * body_px) * 16)));
  };
  const cv::Scalar ink(spec.figure_gray);

  cv::Mat frame;
  cv::Mat noise(spec.height, spec.width, CV_16SC1);
  for (int i = 0; i < frame_count; ++i) {
    const double t = i / spec.fps;
    background.copyTo(frame);
    if (spec.with_walker) {
      const Point right = ankle_at(t, first_strike, step_time, speed, x0);
      const Point left = ankle_at(t, first_strike + step_time, step_time, speed, x0);
      const double pelvis_x = x0 + speed * t;
      // The pelvis rides as high as the legs allow: lowest in double support.
      double hip_y = kMaxHipHeight;
      for (const Point& a : {right, left}) {
        const double dx = a.x - pelvis_x;
        const double reach = 0.999 * (kThigh + kShank);
        hip_y = std::min(hip_y, a.y + std::sqrt(std::max(0.0, reach * reach - dx * dx)));
      }
      const Point hip{pelvis_x, hip_y};
      const Point shoulder{pelvis_x + 0.02, hip_y + kTorso};
      const Point head{pelvis_x + 0.03, shoulder.y + kNeckToHeadCentre};
      const double phase = std::numbers::pi * (t - first_strike) / step_time;
      const auto draw = [&](Point a, Point b, double thickness) {
        cv::line(frame, to_px(a), to_px(b), ink, std::max(1, static_cast<int>(thickness * body_px)),
                 cv::LINE_AA, 4);
      };
      for (const Point& ankle : {left, right}) {
        const Point knee = knee_for(hip, ankle);
        draw(hip, knee, 0.075);
        draw(knee, ankle, 0.06);
        draw({ankle.x - kHeelBehindAnkle, kAnkleHeight - 0.02 + (ankle.y - kAnkleHeight)},
             {ankle.x + kToeAheadOfAnkle, kAnkleHeight - 0.02 + (ankle.y - kAnkleHeight)}, 0.04);
      }
      draw(hip, shoulder, 0.13);
      for (double sign : {1.0, -1.0}) {
        const double swing = sign * 0.35 * std::cos(phase);
        const Point elbow{shoulder.x + 0.15 * std::sin(swing), shoulder.y - 0.15 * std::cos(swing)};
        const Point hand{elbow.x + 0.14 * std::sin(swing + 0.2),
                         elbow.y - 0.14 * std::cos(swing + 0.2)};
        draw(shoulder, elbow, 0.045);
        draw(elbow, hand, 0.04);
      }
      cv::circle(frame, to_px(head), static_cast<int>(kHeadRadius * body_px * 16), ink, cv::FILLED,
                 cv::LINE_AA, 4);
    }
    if (spec.noise_sigma > 0) {
      rng.fill(noise, cv::RNG::NORMAL, 0, spec.noise_sigma);
      cv::Mat noisy;
      frame.convertTo(noisy, CV_16SC1);
      noisy += noise;
      noisy.convertTo(frame, CV_8UC1);
    }
    if (std::fwrite(frame.data, 1, frame.total(), pipe.get()) != frame.total()) {
      throw std::runtime_error("ffmpeg stopped reading frames");
    }
  }
  if (pclose(pipe.release()) != 0) throw std::runtime_error("ffmpeg failed: " + command);
  return truth;
}

}  // namespace dancer::analysis
