#!/usr/bin/python3
"""cv::dnn::Net::quantize (int8) on BlazePose full: speed and accuracy against TensorFlow.js.

Reads the model inputs and TF.js outputs the oracle test caches in the build tree
(BUILD/pose_oracle/blazepose-full: crops cut by the C++ tracker, outputs of oracle.mjs), so
run the analysis unit tests first. Calibrates on 8 crops (one batch; `one` as argument: on a
single crop) and compares all 25.

  /usr/bin/python3 bench/pose/quantize_int8.py [one] [--build BUILD]
"""
import glob
import os
import sys
import time

import cv2
import numpy as np

BUILD = sys.argv[sys.argv.index("--build") + 1] if "--build" in sys.argv else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
cv2.setNumThreads(1)
d=os.path.join(BUILD, 'pose_oracle', 'blazepose-full') + '/'
files=sorted(glob.glob(d+'crop*.f32'))
xs=[np.fromfile(f,np.float32).reshape(1,256,256,3).transpose(0,3,1,2).copy() for f in files]
refs=[np.load(f.replace('.f32','.ld_3d.npy')).reshape(-1,5) for f in files]
net=cv2.dnn.readNetFromONNX(os.path.join(BUILD, 'models', 'blazepose-full.onnx'))
try:
    q=net.quantize([np.concatenate(xs[:8])] if 'one' not in sys.argv else [xs[0]], cv2.CV_32F, cv2.CV_32F)
except Exception as e:
    print('quantize failed:', e); sys.exit(0)
for name,n in (('fp32',net),('int8',q)):
    worst=0
    for x,r in zip(xs,refs):
        n.setInput(x); o=n.forward('ld_3d').reshape(-1,5)
        worst=max(worst,float(np.abs(o[:33,:2]-r[:33,:2]).max()))
    n.setInput(xs[12]); n.forward('ld_3d')
    t=[]
    for i in range(15):
        t0=time.perf_counter(); n.setInput(xs[12]); n.forward('ld_3d'); t.append((time.perf_counter()-t0)*1e3)
    print(name, 'max |dxy| px of 256 vs tfjs:', round(worst,3), 'median ms', round(sorted(t)[7],1))
