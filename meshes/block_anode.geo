// Example user mesh for anodesim: a tungsten tile let into the top face of a copper
// block (lengths in mm here; Mesh.ScalingFactor writes the mesh in metres).
// Physical groups carry the names the case file uses:
//   volumes  target (the W tile), heat_sink (the Cu block)
//   surfaces beam_face (top of the tile), anode_face (rest of the top),
//            side (the four side faces), cooled_end (the bottom)
SetFactory("OpenCASCADE");

Box(1) = {-3, -3, -4, 6, 6, 4};        // Cu block, top face at z = 0
Box(2) = {-1, -1, -0.5, 2, 2, 0.5};    // W tile, 2 x 2 x 0.5 mm, flush with the top
BooleanFragments{ Volume{1}; Delete; }{ Volume{2}; Delete; }

e = 1e-3;
tile[] = Volume In BoundingBox{-1 - e, -1 - e, -0.5 - e, 1 + e, 1 + e, e};
all[] = Volume "*";
sink[] = all[];
sink[] -= tile[];
Physical Volume("target") = tile[];
Physical Volume("heat_sink") = sink[];

beam[] = Surface In BoundingBox{-1 - e, -1 - e, -e, 1 + e, 1 + e, e};
top[] = Surface In BoundingBox{-3 - e, -3 - e, -e, 3 + e, 3 + e, e};
top[] -= beam[];
bottom[] = Surface In BoundingBox{-3 - e, -3 - e, -4 - e, 3 + e, 3 + e, -4 + e};
side[] = Surface In BoundingBox{-3 - e, -3 - e, -4 - e, -3 + e, 3 + e, e};
side[] += Surface In BoundingBox{3 - e, -3 - e, -4 - e, 3 + e, 3 + e, e};
side[] += Surface In BoundingBox{-3 - e, -3 - e, -4 - e, 3 + e, -3 + e, e};
side[] += Surface In BoundingBox{-3 - e, 3 - e, -4 - e, 3 + e, 3 + e, e};
Physical Surface("beam_face") = beam[];
Physical Surface("anode_face") = top[];
Physical Surface("side") = side[];
Physical Surface("cooled_end") = bottom[];

// Graded around the impact point (0, 0, 0): 25 µm elements within 0.2 mm, growing to
// 0.6 mm. A Gaussian spot should be at least 4 of the smallest elements wide (FWHM).
Field[1] = Distance;
Point(1000) = {0, 0, 0};
Point{1000} In Surface{beam[0]};
Field[1].PointsList = {1000};
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = 0.025;
Field[2].SizeMax = 0.6;
Field[2].DistMin = 0.2;
Field[2].DistMax = 3.0;
Background Field = 2;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
Mesh.ScalingFactor = 0.001;
Mesh.MshFileVersion = 4.1;
