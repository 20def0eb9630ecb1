// The BlazePose landmark topology, declared once (as MediaPipe's pose_landmark.h and
// solutions/pose_connections.py do): the 33 landmarks' numbers, the skeleton's connections,
// each leg's points, and the anthropometric ratio the gait code scales by. "Left" and "right"
// are the model's labels, which a 2D model often swaps between the near and far leg in a side
// view (gait/gait_keypoints.h names the feet itself).
#pragma once

#include <cstddef>

namespace dancer::analysis::blazepose {

// The order of the model's ld_3d output (BlazePose GHUM model card, "pose_landmark" topology).
enum Landmark : int {
  kNose = 0,
  kLeftEyeInner,
  kLeftEye,
  kLeftEyeOuter,
  kRightEyeInner,
  kRightEye,
  kRightEyeOuter,
  kLeftEar,
  kRightEar,
  kMouthLeft,
  kMouthRight,
  kLeftShoulder,
  kRightShoulder,
  kLeftElbow,
  kRightElbow,
  kLeftWrist,
  kRightWrist,
  kLeftPinky,
  kRightPinky,
  kLeftIndex,
  kRightIndex,
  kLeftThumb,
  kRightThumb,
  kLeftHip,
  kRightHip,
  kLeftKnee,
  kRightKnee,
  kLeftAnkle,
  kRightAnkle,
  kLeftHeel,
  kRightHeel,
  kLeftFootIndex,
  kRightFootIndex,
  kLandmarkCount
};

// One side's points, indexed by model side (0: the model's left, 1: its right).
struct Side {
  Landmark shoulder, hip, knee, ankle, heel, foot_index;
};
inline constexpr Side kSides[2] = {
    {kLeftShoulder, kLeftHip, kLeftKnee, kLeftAnkle, kLeftHeel, kLeftFootIndex},
    {kRightShoulder, kRightHip, kRightKnee, kRightAnkle, kRightHeel, kRightFootIndex},
};

// 0 for the model's left leg (hip to foot), 1 for its right, -1 for the rest of the body.
constexpr int leg_side(int landmark) {
  if (landmark < kLeftHip || landmark >= kLandmarkCount) return -1;
  return (landmark - kLeftHip) % 2;
}

struct Connection {
  Landmark a, b;
};
// MediaPipe's POSE_CONNECTIONS (mediapipe/python/solutions/pose_connections.py).
inline constexpr Connection kConnections[] = {
    {kNose, kLeftEyeInner},          {kLeftEyeInner, kLeftEye},      {kLeftEye, kLeftEyeOuter},
    {kLeftEyeOuter, kLeftEar},       {kNose, kRightEyeInner},        {kRightEyeInner, kRightEye},
    {kRightEye, kRightEyeOuter},     {kRightEyeOuter, kRightEar},    {kMouthLeft, kMouthRight},
    {kLeftShoulder, kRightShoulder}, {kLeftShoulder, kLeftElbow},    {kLeftElbow, kLeftWrist},
    {kLeftWrist, kLeftPinky},        {kLeftWrist, kLeftIndex},       {kLeftWrist, kLeftThumb},
    {kLeftPinky, kLeftIndex},        {kRightShoulder, kRightElbow},  {kRightElbow, kRightWrist},
    {kRightWrist, kRightPinky},      {kRightWrist, kRightIndex},     {kRightWrist, kRightThumb},
    {kRightPinky, kRightIndex},      {kLeftShoulder, kLeftHip},      {kRightShoulder, kRightHip},
    {kLeftHip, kRightHip},           {kLeftHip, kLeftKnee},          {kLeftKnee, kLeftAnkle},
    {kLeftAnkle, kLeftHeel},         {kLeftHeel, kLeftFootIndex},    {kLeftAnkle, kLeftFootIndex},
    {kRightHip, kRightKnee},         {kRightKnee, kRightAnkle},      {kRightAnkle, kRightHeel},
    {kRightHeel, kRightFootIndex},   {kRightAnkle, kRightFootIndex},
};

// Nose to heel spans about 0.87 of the stature (nose about 0.91 H above the floor, the heel
// landmark about 0.04 H; Drillis and Contini's segment proportions as tabulated by Winter,
// Biomechanics and Motor Control of Human Movement, 4th ed., fig. 4.1): a walker's height in
// the image is (heel - nose) / 0.87, the scale of every length in body heights.
inline constexpr double kNoseToHeelOfStature = 0.87;

}  // namespace dancer::analysis::blazepose
